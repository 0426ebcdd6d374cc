// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {HEVM, Vm} from "../test-utils/Vm.sol";
import {DBC_MARKET, DBC_MINING, DBC_STAKING, DBC_GOVERNANCE, DBC_SYSTEM} from "../test-utils/DbcAddresses.sol";
import {DbcPrecompiles} from "../test-utils/DbcPrecompiles.sol";

/// Replays a trace recorded on a dbc-node dev chain against the Solidity stand-ins of the
/// precompiles (`contracts/test-utils/`) and requires identical results: for every block, the
/// same environment (number, timestamp, prevrandao, base fee, coinbase, block hashes), every
/// transaction sent by the same account with the same value and calldata, the market's
/// end-of-block hook from the system address with the fees the node burned, then governance's
/// with the block's supply change the node measured; and then the same
/// success, return data and logs per transaction, the same balance changes per checked block
/// (gas excluded) and the same result of every recorded view.
///
/// The trace is `DBC_DIFF_TRACE` (relative to `contracts/`), by default the recording in
/// `test/data/precompile-diff.json`. `bin/dbc-node/tests/precompile_diff.rs` records a fresh
/// trace on a live node and runs this test on it; `DBC_DIFF_RECORD=1` refreshes the recording.
contract PrecompileDiff {
    struct DiffLog {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    struct DiffBlock {
        uint64 number;
        uint64 timestamp;
        bytes32 prevrandao;
        bytes32 hash;
        address coinbase;
        uint256 baseFee;
        uint256 feesBurned;
        /// The block's net change of the sum of all balances before governance's hook.
        int256 supplyChange;
    }

    struct DiffStep {
        uint64 blockNumber;
        address from;
        address to;
        uint256 value;
        bytes data;
        bool success;
        bytes output;
        DiffLog[] logs;
    }

    struct DiffView {
        address to;
        bytes data;
    }

    /// A view's result on the node, listed when it differs from the previous check's.
    struct DiffResult {
        uint32 index;
        bool success;
        bytes output;
    }

    struct DiffCheck {
        uint64 blockNumber;
        int256[] deltas;
        DiffResult[] changed;
    }

    DiffView[] internal views;
    /// The node's latest result of each view.
    bool[] internal expectedOk;
    bytes[] internal expectedOut;

    /// Balance every non-precompile account starts the replay with: the replay pays no gas,
    /// and only balance changes are compared.
    uint256 internal constant START_BALANCE = 1e30;

    /// The committee, verification, prices, rentals, rewards, project mining and staking
    /// (or the trace `DBC_DIFF_TRACE` names).
    function test_replay_node_trace() external {
        _replay(HEVM.envOr("DBC_DIFF_TRACE", string("test/data/precompile-diff.json")));
    }

    /// Fault reports, unanswered liveness challenges, missed heartbeats and slashes.
    function test_replay_faults_trace() external {
        _replay("test/data/precompile-diff-faults.json");
    }

    function _replay(string memory path) internal {
        string memory json = HEVM.readFile(path);
        DbcPrecompiles.installFromGenesis(HEVM.readFile(HEVM.parseJsonString(json, ".genesis")));

        address[] memory accounts = abi.decode(HEVM.parseJsonBytes(json, ".accounts"), (address[]));
        DiffBlock[] memory blocks = abi.decode(HEVM.parseJsonBytes(json, ".blocks"), (DiffBlock[]));
        DiffStep[] memory steps = abi.decode(HEVM.parseJsonBytes(json, ".steps"), (DiffStep[]));
        DiffCheck[] memory checks = abi.decode(HEVM.parseJsonBytes(json, ".checks"), (DiffCheck[]));
        DiffView[] memory vs = abi.decode(HEVM.parseJsonBytes(json, ".views"), (DiffView[]));
        for (uint256 i; i < vs.length; i++) {
            views.push(vs[i]);
            expectedOk.push(false);
            expectedOut.push("");
        }
        require(steps.length > 0 && checks.length > 0, "empty trace");
        for (uint256 i; i < accounts.length; i++) {
            if (!_isPrecompile(accounts[i])) HEVM.deal(accounts[i], START_BALANCE);
        }

        uint256 s;
        uint256 c;
        uint256[] memory before = new uint256[](accounts.length);
        for (uint256 b; b < blocks.length; b++) {
            DiffBlock memory blk = blocks[b];
            HEVM.roll(blk.number);
            HEVM.warp(blk.timestamp);
            HEVM.prevrandao(blk.prevrandao);
            HEVM.coinbase(blk.coinbase);
            HEVM.fee(blk.baseFee);
            bool checking = c < checks.length && checks[c].blockNumber == blk.number;
            if (checking) {
                for (uint256 i; i < accounts.length; i++) {
                    before[i] = accounts[i].balance;
                }
            }
            while (s < steps.length && steps[s].blockNumber == blk.number) {
                _step(steps[s], s);
                s++;
            }
            HEVM.prank(DBC_SYSTEM, DBC_SYSTEM);
            (bool ok,) = DBC_MARKET.call(abi.encodeWithSignature("onBlock(uint256)", blk.feesBurned));
            require(ok, string.concat("the market hook reverted in block ", HEVM.toString(blk.number)));
            HEVM.prank(DBC_SYSTEM, DBC_SYSTEM);
            (ok,) = DBC_GOVERNANCE.call(abi.encodeWithSignature("onBlock(int256)", blk.supplyChange));
            require(ok, string.concat("the governance hook reverted in block ", HEVM.toString(blk.number)));
            HEVM.setBlockhash(blk.number, blk.hash);
            if (checking) {
                _check(checks[c], accounts, before);
                c++;
            }
        }
        require(s == steps.length, "steps outside the trace's blocks");
        require(c == checks.length, "checks outside the trace's blocks");
    }

    function _step(DiffStep memory st, uint256 index) internal {
        string memory at = string.concat(
            "step ", HEVM.toString(index), " (block ", HEVM.toString(st.blockNumber), ", ", _selector(st.data), "): "
        );
        HEVM.recordLogs();
        HEVM.prank(st.from, st.from);
        (bool ok, bytes memory out) = st.to.call{value: st.value}(st.data);
        Vm.Log[] memory logs = HEVM.getRecordedLogs();
        require(
            ok == st.success,
            string.concat(at, ok ? "succeeded, node reverted with " : "reverted, node succeeded; got ", HEVM.toString(ok ? st.output : out))
        );
        require(
            keccak256(out) == keccak256(st.output),
            string.concat(at, "return data ", HEVM.toString(out), " != node's ", HEVM.toString(st.output))
        );
        // A reverted transaction has no logs on the node, while forge's recorder keeps those of
        // calls that reverted: only successful steps compare logs.
        if (!ok) return;
        require(
            logs.length == st.logs.length,
            string.concat(at, HEVM.toString(logs.length), " logs != node's ", HEVM.toString(st.logs.length))
        );
        for (uint256 i; i < logs.length; i++) {
            string memory which = string.concat(at, "log ", HEVM.toString(i), " ");
            require(logs[i].emitter == st.logs[i].emitter, string.concat(which, "emitter differs"));
            require(
                keccak256(abi.encode(logs[i].topics)) == keccak256(abi.encode(st.logs[i].topics)),
                string.concat(which, "topics differ: topic0 ", _topic0(logs[i].topics), " vs node's ", _topic0(st.logs[i].topics))
            );
            require(
                keccak256(logs[i].data) == keccak256(st.logs[i].data),
                string.concat(which, "data ", HEVM.toString(logs[i].data), " != node's ", HEVM.toString(st.logs[i].data))
            );
        }
    }

    function _check(DiffCheck memory chk, address[] memory accounts, uint256[] memory before) internal {
        string memory at = string.concat("after block ", HEVM.toString(chk.blockNumber), ": ");
        require(chk.deltas.length == accounts.length, "malformed check");
        for (uint256 i; i < accounts.length; i++) {
            int256 delta = int256(accounts[i].balance) - int256(before[i]);
            require(
                delta == chk.deltas[i],
                string.concat(
                    at,
                    "balance of ",
                    HEVM.toString(accounts[i]),
                    " moved ",
                    _int(delta),
                    ", on the node ",
                    _int(chk.deltas[i])
                )
            );
        }
        for (uint256 i; i < chk.changed.length; i++) {
            DiffResult memory r = chk.changed[i];
            expectedOk[r.index] = r.success;
            expectedOut[r.index] = r.output;
        }
        for (uint256 i; i < views.length; i++) {
            DiffView memory v = views[i];
            (bool ok, bytes memory out) = v.to.staticcall(v.data);
            string memory which = string.concat(at, "view ", _selector(v.data), " on ", HEVM.toString(v.to), " ");
            require(ok == expectedOk[i], string.concat(which, ok ? "succeeded" : "reverted", " unlike the node"));
            require(
                keccak256(out) == keccak256(expectedOut[i]),
                string.concat(which, "returned ", HEVM.toString(out), " != node's ", HEVM.toString(expectedOut[i]))
            );
        }
    }

    function _isPrecompile(address a) internal pure returns (bool) {
        return a == DBC_MARKET || a == DBC_MINING || a == DBC_STAKING || a == DBC_GOVERNANCE;
    }

    function _selector(bytes memory data) internal pure returns (string memory) {
        if (data.length < 4) return data.length == 0 ? "no calldata" : "short calldata";
        bytes memory sel = new bytes(4);
        for (uint256 i; i < 4; i++) {
            sel[i] = data[i];
        }
        return HEVM.toString(sel);
    }

    function _topic0(bytes32[] memory topics) internal pure returns (string memory) {
        return topics.length == 0 ? "none" : HEVM.toString(abi.encodePacked(topics[0]));
    }

    function _int(int256 x) internal pure returns (string memory) {
        return x < 0 ? string.concat("-", HEVM.toString(uint256(-x))) : HEVM.toString(uint256(x));
    }
}
