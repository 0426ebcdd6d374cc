// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {HEVM} from "./Vm.sol";
import {DBC_MARKET, DBC_MINING, DBC_STAKING, DBC_GOVERNANCE, DBC_SYSTEM} from "./DbcAddresses.sol";
import {GpuMarketSol} from "./GpuMarketSol.sol";
import {GovernanceSol, DEFAULT_BURN_FLOOR} from "./GovernanceSol.sol";
import {IGovernance} from "../src/interfaces/IGovernance.sol";
import {Emission} from "./common/Emission.sol";
import {
    GpuMarketParams, GpuModelRow, BurnTierRow, SlashTierRow, gpuMarketDevParams
} from "./market/MarketBase.sol";
import {ProjectMiningSol} from "./ProjectMiningSol.sol";
import {StakingSol} from "./StakingSol.sol";
import {StakingParams, GenesisValidator, stakingDevParams} from "./staking/StakingStore.sol";

/// dbc-node's precompiles for `forge test`.
///
/// In Foundry's EVM the GPU market (`0x…0D01`), project mining (`0x…0D02`), staking
/// (`0x…0D03`) and governance (`0x…0D04`, the treasury) do not exist. `install()` puts Solidity
/// implementations of all four at their addresses with `vm.etch`, set up as on the dev chain
/// (`genesis/dev.json`), so a dApp's unit tests call them exactly as they will on the node:
/// same ABI, same return data, same custom errors, same events, same DBC movements.
/// `bin/dbc-node/tests/precompile_diff.rs` checks that claim by replaying call sequences
/// recorded on a node (`contracts/test/PrecompileDiff.t.sol`). Gas differs (the precompiles
/// have their own schedule), and the file headers of `GpuMarketSol.sol`,
/// `ProjectMiningSol.sol`, `StakingSol.sol` and `GovernanceSol.sol` list what else does.
///
/// Time: the node runs the market's block hook (`onBlock(feesBurned)`, from the system address)
/// at the end of every block; it draws auditors, closes verification rounds, checks heartbeats,
/// ends rentals and settles rewards. Then, last, governance's (`onBlock(supplyChange)`): it
/// adds the block's net balance change to the supply ledger (`totalSupply()`), mints back base
/// fees burned below the burn floor and resets the block's pending burns. Use `mine(n)` (or
/// `endBlock()`) instead of a bare `vm.roll`, so these happen as on the chain:
///
/// ```solidity
/// import {DbcPrecompiles} from "dbc/test-utils/DbcPrecompiles.sol";
/// function setUp() public { DbcPrecompiles.install(); }
/// function test_rent() public { ...; DbcPrecompiles.mine(600); ... }
/// ```
library DbcPrecompiles {
    /// The market as the interface a dApp uses and with the stand-in's extras.
    GpuMarketSol internal constant MARKET = GpuMarketSol(payable(DBC_MARKET));
    ProjectMiningSol internal constant MINING = ProjectMiningSol(payable(DBC_MINING));
    StakingSol internal constant STAKING = StakingSol(payable(DBC_STAKING));
    GovernanceSol internal constant GOVERNANCE = GovernanceSol(payable(DBC_GOVERNANCE));

    /// Installs the four precompiles with the dev chain's parameters and genesis balances
    /// (governance needs no initialisation: uninitialised, it has the dev chain's genesis supply
    /// and burn floor; its account starts empty).
    function install() internal {
        _etch();
        MARKET.initDev();
        MINING.initDev();
        STAKING.initDev();
        _fundMarket(gpuMarketDevParams().rewardPool);
    }

    /// Installs the four precompiles with the parameters of a genesis file's `config.dbc`
    /// (what `dbc-node --chain FILE` runs; absent fields keep their defaults, as on the node)
    /// and the precompiles' genesis balances from its `alloc`. Pass the file's contents, e.g.
    /// `DbcPrecompiles.installFromGenesis(vm.readFile("genesis.json"))` (foundry.toml needs
    /// `fs_permissions` to read it).
    function installFromGenesis(string memory genesis) internal {
        _etch();
        GpuMarketParams memory m = marketParams(genesis);
        MARKET.init(m);
        MINING.init(ProjectMiningSol.Params({epochBlocks: m.epochBlocks, maxProjectsPerMachine: m.maxProjectsPerMachine}));
        STAKING.init(stakingParams(genesis), genesisValidators(genesis));
        (uint256 supply, uint256 floor) = governanceParams(genesis);
        GOVERNANCE.init(supply, floor);
        _dealFromAlloc(genesis, DBC_MARKET, "0x0000000000000000000000000000000000000d01");
        _dealFromAlloc(genesis, DBC_MINING, "0x0000000000000000000000000000000000000d02");
        _dealFromAlloc(genesis, DBC_STAKING, "0x0000000000000000000000000000000000000d03");
        _dealFromAlloc(genesis, DBC_GOVERNANCE, "0x0000000000000000000000000000000000000d04");
    }

    /// Ends the current block as the node does (the market's hook with `feesBurned` base fees,
    /// then governance's, both from the system address) and starts the next one
    /// (`block.number + 1`, `block.timestamp` + `blockSeconds`). Governance is passed the
    /// block's supply change as far as it is known here: −`feesBurned` − the precompiles' burns
    /// of the block (`G_PENDING_BURN`). A SELFDESTRUCT that burned DBC in the block is not seen
    /// under Foundry, so it is missing from `totalSupply()` (the node counts it).
    function endBlock(uint256 feesBurned, uint256 blockSeconds) internal {
        HEVM.prank(DBC_SYSTEM, DBC_SYSTEM);
        (bool ok, bytes memory err) = DBC_MARKET.call(abi.encodeWithSignature("onBlock(uint256)", feesBurned));
        _bubble(ok, err);
        if (DBC_GOVERNANCE.code.length != 0) {
            require(feesBurned <= uint256(type(int256).max), "DbcPrecompiles: feesBurned too large");
            int256 change = -int256(feesBurned) - int256(pendingBurn());
            HEVM.prank(DBC_SYSTEM, DBC_SYSTEM);
            (ok, err) = DBC_GOVERNANCE.call(abi.encodeCall(IGovernance.onBlock, (change)));
            _bubble(ok, err);
        }
        HEVM.roll(block.number + 1);
        HEVM.warp(block.timestamp + blockSeconds);
    }

    /// Ends the current block and mines `blocks − 1` empty ones after it, like `anvil_mine`
    /// on the node (6-second blocks, no fees): the hooks run at the end of every block that has
    /// work due; blocks in which both are idle are skipped in one step (exact: the market
    /// stand-in's `nextHookBlock()` is the first block at which its hook would change anything,
    /// and governance's changes nothing without fees or pending burns).
    function mine(uint256 blocks) internal {
        if (blocks == 0) return;
        uint256 target = block.number + blocks;
        uint256 start = block.timestamp;
        uint256 first = block.number;
        while (block.number < target) {
            uint256 next = MARKET.nextHookBlock();
            if (next > block.number && pendingBurn() == 0) {
                uint256 to = next < target ? next : target;
                HEVM.roll(to);
                HEVM.warp(start + (to - first) * 6);
                continue;
            }
            endBlock(0, 6);
        }
    }

    /// The precompiles' burns so far in this block (governance's `G_PENDING_BURN`, slot 5).
    function pendingBurn() internal view returns (uint256) {
        return uint256(HEVM.load(DBC_GOVERNANCE, bytes32(uint256(5))));
    }

    function _bubble(bool ok, bytes memory err) private pure {
        if (!ok) {
            assembly {
                revert(add(err, 32), mload(err))
            }
        }
    }

    // ---- genesis parsing ----

    /// Governance's numbers in `genesis`: the genesis supply (the sum of the `alloc` balances,
    /// saturating) and `config.dbc.governance.burnFloor` (default 100,000,000 DBC; 0 when the
    /// file has no `config.dbc` at all, a plain Ethereum genesis, as on the node). Unknown
    /// fields of `config.dbc.governance` are refused, as the node refuses them.
    function governanceParams(string memory genesis) internal view returns (uint256 supply, uint256 floor) {
        if (HEVM.keyExistsJson(genesis, ".alloc")) {
            string[] memory accounts = HEVM.parseJsonKeys(genesis, ".alloc");
            for (uint256 i; i < accounts.length; i++) {
                string memory path = string.concat(".alloc.", accounts[i], ".balance");
                if (!HEVM.keyExistsJson(genesis, path)) continue;
                uint256 b = HEVM.parseJsonUint(genesis, path);
                unchecked {
                    supply = supply + b < supply ? type(uint256).max : supply + b;
                }
            }
        }
        if (!HEVM.keyExistsJson(genesis, ".config.dbc")) return (supply, 0);
        floor = DEFAULT_BURN_FLOOR;
        string memory k = ".config.dbc.governance";
        if (!HEVM.keyExistsJson(genesis, k)) return (supply, floor);
        string[] memory keys = HEVM.parseJsonKeys(genesis, k);
        for (uint256 i; i < keys.length; i++) {
            require(
                keccak256(bytes(keys[i])) == keccak256("burnFloor"),
                string.concat("DbcPrecompiles: unknown field config.dbc.governance.", keys[i])
            );
        }
        floor = _uint(genesis, k, "burnFloor", floor);
    }

    /// The market's parameters in `genesis` (`config.dbc.market`, defaults for absent fields).
    function marketParams(string memory genesis) internal view returns (GpuMarketParams memory p) {
        p = gpuMarketDevParams();
        string memory k = ".config.dbc.market";
        if (!HEVM.keyExistsJson(genesis, k)) return p;
        p.stakePerGpu = _uint(genesis, k, "stakePerGpu", p.stakePerGpu);
        p.auditorStake = _uint(genesis, k, "auditorStake", p.auditorStake);
        p.auditorPenaltyBps = uint16(_uint(genesis, k, "auditorPenaltyBps", p.auditorPenaltyBps));
        p.auditorRewardBps = uint16(_uint(genesis, k, "auditorRewardBps", p.auditorRewardBps));
        p.drawDelayBlocks = uint64(_uint(genesis, k, "drawDelayBlocks", p.drawDelayBlocks));
        p.commitWindowBlocks = uint64(_uint(genesis, k, "commitWindowBlocks", p.commitWindowBlocks));
        p.revealWindowBlocks = uint64(_uint(genesis, k, "revealWindowBlocks", p.revealWindowBlocks));
        p.rejectSlashBps = uint16(_uint(genesis, k, "rejectSlashBps", p.rejectSlashBps));
        p.standardCalcPoint = uint32(_uint(genesis, k, "standardCalcPoint", p.standardCalcPoint));
        p.calcPointToleranceBps = uint16(_uint(genesis, k, "calcPointToleranceBps", p.calcPointToleranceBps));
        p.challengeCheckBlocks = uint64(_uint(genesis, k, "challengeCheckBlocks", p.challengeCheckBlocks));
        p.challengeChanceBps = uint16(_uint(genesis, k, "challengeChanceBps", p.challengeChanceBps));
        p.standardPricePerGpuBlock = _uint(genesis, k, "standardPricePerGpuBlock", p.standardPricePerGpuBlock);
        p.minPriceBps = uint16(_uint(genesis, k, "minPriceBps", p.minPriceBps));
        p.rentUnitBlocks = uint64(_uint(genesis, k, "rentUnitBlocks", p.rentUnitBlocks));
        p.maxRentBlocks = uint64(_uint(genesis, k, "maxRentBlocks", p.maxRentBlocks));
        p.epochBlocks = uint64(_uint(genesis, k, "epochBlocks", p.epochBlocks));
        p.rewardPool = _uint(genesis, k, "rewardPool", p.rewardPool);
        p.immediateBps = uint16(_uint(genesis, k, "immediateBps", p.immediateBps));
        p.vestingBlocks = uint64(_uint(genesis, k, "vestingBlocks", p.vestingBlocks));
        p.rentedBonusBps = uint16(_uint(genesis, k, "rentedBonusBps", p.rentedBonusBps));
        p.heartbeatTimeoutBlocks = uint64(_uint(genesis, k, "heartbeatTimeoutBlocks", p.heartbeatTimeoutBlocks));
        p.minOnlineBlocks = uint64(_uint(genesis, k, "minOnlineBlocks", p.minOnlineBlocks));
        p.exitCooldownBlocks = uint64(_uint(genesis, k, "exitCooldownBlocks", p.exitCooldownBlocks));
        p.slashRenterBps = uint16(_uint(genesis, k, "slashRenterBps", p.slashRenterBps));
        p.slashAuditorsBps = uint16(_uint(genesis, k, "slashAuditorsBps", p.slashAuditorsBps));
        p.reportDeposit = _uint(genesis, k, "reportDeposit", p.reportDeposit);
        p.maxProjectsPerMachine = uint32(_uint(genesis, k, "maxProjectsPerMachine", p.maxProjectsPerMachine));
        if (_has(genesis, k, "emission")) p.emission = _emission(genesis, string.concat(k, ".emission"));
        if (_has(genesis, k, "burnTierBasis")) {
            string memory basis = HEVM.parseJsonString(genesis, string.concat(k, ".burnTierBasis"));
            p.burnTierBasisRegistered = keccak256(bytes(basis)) == keccak256("registered");
        }
        if (_has(genesis, k, "gpuModels")) p.gpuModels = _gpuModels(genesis, string.concat(k, ".gpuModels"));
        if (_has(genesis, k, "burnTiers")) p.burnTiers = _burnTiers(genesis, string.concat(k, ".burnTiers"));
        if (_has(genesis, k, "ownerOfflineSlash")) {
            p.ownerOfflineSlash = _slashTiers(genesis, string.concat(k, ".ownerOfflineSlash"));
        }
        if (_has(genesis, k, "unreachableSlash")) {
            p.unreachableSlash = _slashTiers(genesis, string.concat(k, ".unreachableSlash"));
        }
    }

    /// Staking's parameters in `genesis` (`config.dbc.staking`, defaults for absent fields).
    function stakingParams(string memory genesis) internal view returns (StakingParams memory p) {
        p = stakingDevParams();
        string memory k = ".config.dbc.staking";
        if (!HEVM.keyExistsJson(genesis, k)) return p;
        p.epochBlocks = uint64(_uint(genesis, k, "epochBlocks", p.epochBlocks));
        p.maxValidators = uint32(_uint(genesis, k, "maxValidators", p.maxValidators));
        p.maxCandidates = uint32(_uint(genesis, k, "maxCandidates", p.maxCandidates));
        p.minSelfStake = _uint(genesis, k, "minSelfStake", p.minSelfStake);
        p.minDelegation = _uint(genesis, k, "minDelegation", p.minDelegation);
        p.unbondingBlocks = uint64(_uint(genesis, k, "unbondingBlocks", p.unbondingBlocks));
        p.rewardPool = _uint(genesis, k, "rewardPool", p.rewardPool);
        p.maxCommissionBps = uint16(_uint(genesis, k, "maxCommissionBps", p.maxCommissionBps));
        p.maxCommissionIncreaseBps = uint16(_uint(genesis, k, "maxCommissionIncreaseBps", p.maxCommissionIncreaseBps));
        p.doubleSignSlashBps = uint16(_uint(genesis, k, "doubleSignSlashBps", p.doubleSignSlashBps));
        p.evidenceRewardBps = uint16(_uint(genesis, k, "evidenceRewardBps", p.evidenceRewardBps));
        p.slashTreasuryBps = uint16(_uint(genesis, k, "slashTreasuryBps", p.slashTreasuryBps));
        if (_has(genesis, k, "emission")) p.emission = _emission(genesis, string.concat(k, ".emission"));
        p.downtimeJailMissed = uint32(_uint(genesis, k, "downtimeJailMissed", p.downtimeJailMissed));
        p.downtimeSlashBps = uint16(_uint(genesis, k, "downtimeSlashBps", p.downtimeSlashBps));
        p.jailBlocks = uint64(_uint(genesis, k, "jailBlocks", p.jailBlocks));
    }

    /// The genesis validators of `genesis` (`config.dbc.staking.validators`).
    function genesisValidators(string memory genesis) internal view returns (GenesisValidator[] memory v) {
        string memory k = ".config.dbc.staking.validators";
        if (!HEVM.keyExistsJson(genesis, k)) return v;
        uint256 n = _length(genesis, k);
        v = new GenesisValidator[](n);
        for (uint256 i; i < n; i++) {
            string memory e = string.concat(k, "[", HEVM.toString(i), "]");
            v[i].addr = HEVM.parseJsonAddress(genesis, string.concat(e, ".address"));
            v[i].stake = HEVM.parseJsonUint(genesis, string.concat(e, ".stake"));
            v[i].commissionBps = uint16(_uint(genesis, e, "commissionBps", 0));
        }
    }

    function _etch() private {
        HEVM.etch(DBC_MARKET, type(GpuMarketSol).runtimeCode);
        HEVM.etch(DBC_MINING, type(ProjectMiningSol).runtimeCode);
        HEVM.etch(DBC_STAKING, type(StakingSol).runtimeCode);
        HEVM.etch(DBC_GOVERNANCE, type(GovernanceSol).runtimeCode);
        HEVM.label(DBC_MARKET, "dbc:GpuMarket");
        HEVM.label(DBC_MINING, "dbc:ProjectMining");
        HEVM.label(DBC_STAKING, "dbc:Staking");
        HEVM.label(DBC_GOVERNANCE, "dbc:Governance");
    }

    /// The dev genesis funds the market with its reward pool.
    function _fundMarket(uint256 amount) private {
        if (DBC_MARKET.balance < amount) HEVM.deal(DBC_MARKET, amount);
    }

    function _dealFromAlloc(string memory genesis, address account, string memory key) private {
        string memory path = string.concat(".alloc.", key, ".balance");
        if (HEVM.keyExistsJson(genesis, path)) HEVM.deal(account, HEVM.parseJsonUint(genesis, path));
    }

    function _has(string memory json, string memory obj, string memory key) private view returns (bool) {
        return HEVM.keyExistsJson(json, string.concat(obj, ".", key));
    }

    function _uint(string memory json, string memory obj, string memory key, uint256 dflt)
        private
        view
        returns (uint256)
    {
        string memory path = string.concat(obj, ".", key);
        return HEVM.keyExistsJson(json, path) ? HEVM.parseJsonUint(json, path) : dflt;
    }

    function _length(string memory json, string memory array) private view returns (uint256 n) {
        while (HEVM.keyExistsJson(json, string.concat(array, "[", HEVM.toString(n), "]"))) n++;
    }

    /// An emission schedule object (`EmissionSchedule`: all five fields required).
    function _emission(string memory json, string memory k) private pure returns (Emission memory e) {
        e.eraBlocks = uint64(HEVM.parseJsonUint(json, string.concat(k, ".eraBlocks")));
        e.initialPerBlock = HEVM.parseJsonUint(json, string.concat(k, ".initialPerBlock"));
        e.flatEras = uint32(HEVM.parseJsonUint(json, string.concat(k, ".flatEras")));
        e.decayBps = uint16(HEVM.parseJsonUint(json, string.concat(k, ".decayBps")));
        e.endEra = uint32(HEVM.parseJsonUint(json, string.concat(k, ".endEra")));
    }

    function _gpuModels(string memory json, string memory k) private view returns (GpuModelRow[] memory rows) {
        uint256 n = _length(json, k);
        rows = new GpuModelRow[](n);
        for (uint256 i; i < n; i++) {
            string memory e = string.concat(k, "[", HEVM.toString(i), "]");
            bytes memory name = bytes(HEVM.parseJsonString(json, string.concat(e, ".model")));
            require(name.length <= 32, "DbcPrecompiles: a GPU model name is longer than 32 bytes");
            rows[i] = GpuModelRow(
                bytes32(name),
                uint32(HEVM.parseJsonUint(json, string.concat(e, ".calcPoint"))),
                uint32(HEVM.parseJsonUint(json, string.concat(e, ".memoryGb")))
            );
        }
    }

    function _burnTiers(string memory json, string memory k) private view returns (BurnTierRow[] memory rows) {
        uint256 n = _length(json, k);
        rows = new BurnTierRow[](n);
        for (uint256 i; i < n; i++) {
            string memory e = string.concat(k, "[", HEVM.toString(i), "]");
            rows[i] = BurnTierRow(
                uint64(HEVM.parseJsonUint(json, string.concat(e, ".fromGpus"))),
                uint16(HEVM.parseJsonUint(json, string.concat(e, ".bps")))
            );
        }
    }

    function _slashTiers(string memory json, string memory k) private view returns (SlashTierRow[] memory rows) {
        uint256 n = _length(json, k);
        rows = new SlashTierRow[](n);
        for (uint256 i; i < n; i++) {
            string memory e = string.concat(k, "[", HEVM.toString(i), "]");
            rows[i] = SlashTierRow(
                uint64(_uint(json, e, "underBlocks", type(uint64).max)),
                uint16(HEVM.parseJsonUint(json, string.concat(e, ".bps")))
            );
        }
    }
}
