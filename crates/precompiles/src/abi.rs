//! Rust bindings of `contracts/src/interfaces/IGpuMarket.sol` and `IProjectMining.sol` and `IStaking.sol`, the one
//! ABI source shared with Solidity.
#![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]

alloy_sol_types::sol!(
    #![sol(all_derives)]
    "../../contracts/src/interfaces/IGpuMarket.sol"
);

alloy_sol_types::sol!(
    #![sol(all_derives)]
    "../../contracts/src/interfaces/IProjectMining.sol"
);

alloy_sol_types::sol!(
    #![sol(all_derives)]
    "../../contracts/src/interfaces/IStaking.sol"
);

alloy_sol_types::sol!(
    #![sol(all_derives)]
    "../../contracts/src/interfaces/IGovernance.sol"
);
