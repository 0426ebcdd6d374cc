// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @dev Cheatcodes the end-to-end scripts use (forge-std is not on npm).
interface Vm {
    function startBroadcast(uint256 privateKey) external;
    function stopBroadcast() external;
    function deriveKey(string calldata mnemonic, uint32 index) external pure returns (uint256);
    function addr(uint256 privateKey) external pure returns (address);
    function rpc(string calldata method, string calldata params) external returns (bytes memory);
    function toString(bytes calldata value) external pure returns (string memory);
    function toString(address value) external pure returns (string memory);
    function toString(uint256 value) external pure returns (string memory);
    function computeCreateAddress(address deployer, uint256 nonce) external pure returns (address);
}

/// @notice Helpers for phase scripts that drive dbc-node's precompiles. Forge's local EVM does
/// not have them, so calls go out with a low-level `call` whose local result is ignored (forge
/// still broadcasts them; run with `--skip-simulation --slow`), and assertions read the node's
/// real state with `vm.rpc("eth_call")` / `eth_getBalance`.
abstract contract E2EBase {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    address internal constant MARKET = 0x0000000000000000000000000000000000000d01;
    address internal constant MINING = 0x0000000000000000000000000000000000000d02;
    string internal constant MNEMONIC = "test test test test test test test test test test test junk";

    function key(uint32 i) internal pure returns (uint256) {
        return vm.deriveKey(MNEMONIC, i);
    }

    function auditorKeys() internal pure returns (uint256[3] memory k) {
        k = [key(2), key(3), key(4)];
    }

    function viewCall(address to, bytes memory data) internal returns (bytes memory) {
        string memory params = string.concat(
            '[{"to":"', vm.toString(to), '","data":"', vm.toString(data), '"},"latest"]'
        );
        return vm.rpc("eth_call", params);
    }

    function toUint(bytes memory b) internal pure returns (uint256 v) {
        for (uint256 i = 0; i < b.length; i++) {
            v = (v << 8) | uint8(b[i]);
        }
    }

    function balanceAt(address a, string memory tag) internal returns (uint256) {
        return toUint(vm.rpc("eth_getBalance", string.concat('["', vm.toString(a), '","', tag, '"]')));
    }

    function hexQ(uint256 n) internal pure returns (string memory s) {
        bytes memory digits = "0123456789abcdef";
        if (n == 0) return "0x0";
        bytes memory buf = new bytes(64);
        uint256 len;
        while (n > 0) {
            buf[len++] = digits[n & 15];
            n >>= 4;
        }
        bytes memory out = new bytes(len);
        for (uint256 i = 0; i < len; i++) {
            out[i] = buf[len - 1 - i];
        }
        s = string.concat("0x", string(out));
    }

    function send(uint256 pk, address to, uint256 value, bytes memory data) internal {
        vm.startBroadcast(pk);
        // A fixed gas limit: the local call fails (no market here) and must not burn the
        // script's gas; forge uses it as the transaction's gas limit.
        (bool ok,) = to.call{value: value, gas: 3_000_000}(data);
        ok;
        vm.stopBroadcast();
    }

    function seatKey(address auditor) internal pure returns (uint256) {
        uint256[3] memory k = auditorKeys();
        for (uint256 i = 0; i < 3; i++) {
            if (vm.addr(k[i]) == auditor) return k[i];
        }
        revert("not one of our auditors");
    }
}
