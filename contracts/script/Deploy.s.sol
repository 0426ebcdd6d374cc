// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Counter} from "../src/Counter.sol";
import {Token} from "../src/Token.sol";

/// @dev The cheatcodes this script uses (forge-std is not on npm, so the interface is declared
/// here; the address is Foundry's fixed cheatcode address).
interface Vm {
    function startBroadcast() external;
    function stopBroadcast() external;
}

/// @notice Deploys a Counter (plainly and through the CREATE2 deployer) and a Token, then sends
/// several transactions: forge broadcasts them concurrently, so the node's pool must queue and
/// promote nonce gaps.
contract Deploy {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function run() external {
        vm.startBroadcast();
        Counter counter = new Counter();
        Counter viaCreate2 = new Counter{salt: bytes32(uint256(0xdbc))}();
        Token token = new Token("Test", "TST", 1_000_000 ether);
        counter.increment();
        counter.increment();
        counter.setNumber(42);
        viaCreate2.increment();
        require(token.transfer(address(0xBEEF), 1 ether), "transfer failed");
        vm.stopBroadcast();
    }
}
