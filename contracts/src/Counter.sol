// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice A counter that emits an event on every change: the smallest contract whose storage,
/// events and reverts the end-to-end tests can check.
contract Counter {
    uint256 public number;
    address public lastCaller;

    event Incremented(address indexed by, uint256 newValue);
    event NumberSet(address indexed by, uint256 oldValue, uint256 newValue);

    error TooLarge(uint256 value, uint256 max);

    function increment() external {
        number += 1;
        lastCaller = msg.sender;
        emit Incremented(msg.sender, number);
    }

    function setNumber(uint256 value) external {
        if (value > 1_000_000) revert TooLarge(value, 1_000_000);
        emit NumberSet(msg.sender, number, value);
        number = value;
        lastCaller = msg.sender;
    }

    function failWithReason() external pure {
        revert("counter: always fails");
    }
}
