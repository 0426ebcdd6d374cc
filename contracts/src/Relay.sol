// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Counter} from "./Counter.sol";

/// @notice Makes internal calls (and a contract creation, and a value transfer) so traces have
/// nested frames for explorers and tests.
contract Relay {
    event Relayed(address indexed target, uint256 times);

    function bump(Counter counter, uint256 times) external payable {
        for (uint256 i = 0; i < times; i++) {
            counter.increment();
        }
        if (msg.value > 0) {
            // Refund the caller: a value-carrying internal call.
            payable(msg.sender).transfer(msg.value);
        }
        emit Relayed(address(counter), times);
    }

    function spawn() external returns (Counter c) {
        c = new Counter();
        c.increment();
    }
}
