// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// The narrow hook between the Solidity market (`GpuMarketSol` at `DBC_MARKET`) and the
/// Solidity project mining (`ProjectMiningSol` at `DBC_MINING`), mirroring the node's
/// `dbc_precompiles::mining::on_grade_change`. Not part of the chain's ABI: only the Solidity
/// stand-ins used by `forge test` have it, and only the market may call it.
interface IMiningGradeHook {
    /// The market changed `machineId`'s grade to `grade` (0 while offline): mining moves the
    /// machine's weight in every project it is enrolled in.
    function onGradeChange(bytes32 machineId, uint256 grade) external;
}

/// Reads of the market's records that project mining needs and `IGpuMarket` does not expose
/// (the node's mining reads the market's storage directly). Implemented by `GpuMarketSol`.
interface IMarketMockReads {
    /// The machines registered by `provider` (the node's `market::owner_machines`), in the
    /// market's order.
    function ownerMachines(address provider) external view returns (bytes32[] memory);

    /// The machine's stored reward grade, the node's `records::Machine::grade` (market storage
    /// `(T_MACHINE, id)` word 9): `math::grade(calcPoint, gpuCount)` = calcPoint × gpuCount ×
    /// 10,000 while the machine is online and 0 otherwise, as last set by `market::regrade`
    /// (so during a grade change it is still the old grade until `regrade` stores the new one).
    /// Reverts `IGpuMarket.UnknownMachine(machineId)` for a machine never registered, like
    /// `getMachine`. Project mining reads it in `attestWork` (`work::attest`).
    function machineGrade(bytes32 machineId) external view returns (uint256);
}
