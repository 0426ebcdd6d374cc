// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// Addresses of dbc-node's precompiles and of the caller of its block hooks (the node's
// `dbc_chainspec::{MARKET,MINING,STAKING,GOVERNANCE}_ADDRESS` and `dbc_precompiles::SYSTEM_ADDRESS`).
address constant DBC_MARKET = 0x0000000000000000000000000000000000000d01;
address constant DBC_MINING = 0x0000000000000000000000000000000000000d02;
address constant DBC_STAKING = 0x0000000000000000000000000000000000000D03;
// The treasury (its balance) and the emission schedules' view (`IGovernance`).
address constant DBC_GOVERNANCE = 0x0000000000000000000000000000000000000D04;
// EIP-4788's system address: the only caller of the block hooks (`onBlock`).
address constant DBC_SYSTEM = 0xffffFFFfFFffffffffffffffFfFFFfffFFFfFFfE;
