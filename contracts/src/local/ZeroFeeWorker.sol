// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {ILayerZeroExecutor} from "@layerzerolabs/lz-evm-messagelib-v2/contracts/interfaces/ILayerZeroExecutor.sol";
import {ILayerZeroDVN} from "@layerzerolabs/lz-evm-messagelib-v2/contracts/uln/interfaces/ILayerZeroDVN.sol";

/// @title ZeroFeeWorker
/// @notice LOCAL CHAINS ONLY. The send-side executor and DVN that `SendUln302` requires on a chain where
/// no LayerZero workers run. It accepts every job for free and does nothing: the Lockstep relayer
/// verifies (as the receive-side DVN) and executes the packets itself. Emits the job so it is visible.
contract ZeroFeeWorker is ILayerZeroExecutor, ILayerZeroDVN {
    /// @notice An executor job was assigned.
    event ExecutorJobAssigned(uint32 dstEid, address sender, uint256 calldataSize);
    /// @notice A verification job was assigned.
    event VerifierJobAssigned(uint32 dstEid, address sender, bytes32 payloadHash);

    /// @inheritdoc ILayerZeroExecutor
    function assignJob(uint32 dstEid, address sender, uint256 calldataSize, bytes calldata)
        external
        returns (uint256 price)
    {
        emit ExecutorJobAssigned(dstEid, sender, calldataSize);
        return 0;
    }

    /// @inheritdoc ILayerZeroExecutor
    function getFee(uint32, address, uint256, bytes calldata) external pure returns (uint256 price) {
        return 0;
    }

    /// @inheritdoc ILayerZeroDVN
    function assignJob(AssignJobParam calldata param, bytes calldata) external payable returns (uint256 fee) {
        emit VerifierJobAssigned(param.dstEid, param.sender, param.payloadHash);
        return 0;
    }

    /// @inheritdoc ILayerZeroDVN
    function getFee(uint32, uint64, address, bytes calldata) external pure returns (uint256 fee) {
        return 0;
    }
}
