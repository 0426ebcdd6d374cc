// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGpuMarket} from "../src/interfaces/IGpuMarket.sol";

/// @dev Cheatcodes the end-to-end scripts use (forge-std is not on npm).
interface Vm {
    function startBroadcast(uint256 privateKey) external;
    function stopBroadcast() external;
    function deriveKey(string calldata mnemonic, uint32 index) external pure returns (uint256);
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
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

    /// An auditor's measured calc point per GPU: seat `i` measures the table value, 4% above or
    /// 3% below it (all within the 10% tolerance, so all approve; they need not agree).
    function measured(uint32 tableCalcPoint, uint256 i) internal pure returns (uint32) {
        uint32[3] memory pct = [uint32(100), 104, 97];
        return tableCalcPoint * pct[i] / 100;
    }

    /// A heartbeat of machine `id`: its key `machineKey` signs the market's digest over the block
    /// before the head, and `sender` relays it (the machine key needs no balance). Not the head
    /// itself: `eth_call` at `latest` runs in the head's context, where BLOCKHASH of the head is
    /// still 0 (only `pending` calls and estimates run in the next block's).
    function heartbeat(uint256 sender, uint256 machineKey, bytes32 id) internal {
        uint64 n = uint64(toUint(vm.rpc("eth_blockNumber", "[]"))) - 1;
        bytes32 digest =
            abi.decode(viewCall(MARKET, abi.encodeCall(IGpuMarket.heartbeatDigest, (id, n))), (bytes32));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(machineKey, digest);
        send(sender, MARKET, 0, abi.encodeCall(IGpuMarket.heartbeat, (id, n, abi.encodePacked(r, s, v))));
    }

    function seatKey(address auditor) internal pure returns (uint256) {
        uint256[3] memory k = auditorKeys();
        for (uint256 i = 0; i < 3; i++) {
            if (vm.addr(k[i]) == auditor) return k[i];
        }
        revert("not one of our auditors");
    }
}
