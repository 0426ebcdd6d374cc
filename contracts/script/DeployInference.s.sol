// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IProjectMining} from "../src/interfaces/IProjectMining.sol";
import {ProjectTokenFactory} from "../src/ProjectToken.sol";
import {InferenceMarket} from "../examples/InferenceMarket.sol";

interface Vm {
    function startBroadcast() external;
    function stopBroadcast() external;
    function getNonce(address account) external view returns (uint64);
    function computeCreateAddress(address deployer, uint256 nonce) external pure returns (address);
    function envOr(string calldata name, uint256 defaultValue) external view returns (uint256);
}

/// @notice Deploys the example AI dApp and issues its token, in one script:
/// `forge script script/DeployInference.s.sol --rpc-url $RPC --private-key $KEY --broadcast --skip-simulation`
/// (`--skip-simulation` because forge's local EVM has no mining precompile: the `init` call is
/// sent with a low-level call and the node estimates its gas with the real precompile). The dApp
/// attests its program's work; its token fee starts at `FEE_PER_BLOCK` (default 0: nobody holds
/// the token until mining pays; the operator raises it with `setFee`).
contract DeployInference {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function run() external {
        vm.startBroadcast();
        ProjectTokenFactory factory = new ProjectTokenFactory();
        InferenceMarket dapp = new InferenceMarket(vm.envOr("FEE_PER_BLOCK", uint256(0)));
        bytes32[] memory models = new bytes32[](1);
        models[0] = bytes32("RTX 4090");
        IProjectMining.Requirements memory req =
            IProjectMining.Requirements({minGpuMemoryGb: 16, minCalcPoint: 500, gpuModels: models});
        uint64 end = uint64(block.number + vm.envOr("MINING_BLOCKS", 5_256_000));
        (bool ok,) = address(dapp).call{gas: 5_000_000}(
            abi.encodeCall(
                InferenceMarket.init,
                (factory, "Inference Token", "INFER", vm.envOr("TOKENS_PER_BLOCK", 3 ether), 1_000_000_000 ether, end, req)
            )
        );
        ok; // fails locally (no precompile in forge's EVM); succeeds on the node
        vm.stopBroadcast();
    }
}
