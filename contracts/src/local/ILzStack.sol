// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

// ABI-compatible declarations of the LayerZero v2 protocol calls that deploy, configure and relay on a
// local chain. The real contracts (EndpointV2, SendUln302, ReceiveUln302) compile against OpenZeppelin
// 4.x in the `lzstack` profile and cannot be imported next to OApp (OpenZeppelin 5.x), so deployment
// scripts and tests talk to them through these interfaces.

import {Origin} from "@layerzerolabs/lz-evm-protocol-v2/contracts/interfaces/ILayerZeroEndpointV2.sol";

/// @notice Same layout as `UlnConfig` in lz-evm-messagelib-v2 `uln/UlnBase.sol`.
struct UlnConfig {
    uint64 confirmations;
    uint8 requiredDVNCount;
    uint8 optionalDVNCount;
    uint8 optionalDVNThreshold;
    address[] requiredDVNs;
    address[] optionalDVNs;
}

/// @notice Same layout as `SetDefaultUlnConfigParam` in `uln/UlnBase.sol`.
struct SetDefaultUlnConfigParam {
    uint32 eid;
    UlnConfig config;
}

/// @notice Same layout as `ExecutorConfig` in `SendLibBase.sol`.
struct ExecutorConfig {
    uint32 maxMessageSize;
    address executor;
}

/// @notice Same layout as `SetDefaultExecutorConfigParam` in `SendLibBase.sol`.
struct SetDefaultExecutorConfigParam {
    uint32 eid;
    ExecutorConfig config;
}

/// @notice Same layout as `SetConfigParam` in lz-evm-protocol-v2 `interfaces/IMessageLibManager.sol`.
struct SetConfigParam {
    uint32 eid;
    uint32 configType;
    bytes config;
}

/// @notice The EndpointV2 owner, OApp-delegate and executor calls used locally.
interface ILocalEndpoint {
    function eid() external view returns (uint32);
    function defaultSendLibrary(uint32 eid) external view returns (address);
    function registerLibrary(address lib) external;
    function setDefaultSendLibrary(uint32 eid, address lib) external;
    function setDefaultReceiveLibrary(uint32 eid, address lib, uint256 gracePeriod) external;
    /// @notice OApp delegate: the send library of `oapp` towards `eid` (never the endpoint default once set).
    function setSendLibrary(address oapp, uint32 eid, address lib) external;
    /// @notice OApp delegate: the receive library of `oapp` from `eid`.
    function setReceiveLibrary(address oapp, uint32 eid, address lib, uint256 gracePeriod) external;
    /// @notice OApp delegate: per-OApp library configuration (ULN DVNs, executor).
    function setConfig(address oapp, address lib, SetConfigParam[] calldata params) external;
    function getSendLibrary(address sender, uint32 eid) external view returns (address lib);
    function getReceiveLibrary(address receiver, uint32 eid) external view returns (address lib, bool isDefault);
    function isDefaultSendLibrary(address sender, uint32 eid) external view returns (bool);
    function delegates(address oapp) external view returns (address);
    function lzReceive(
        Origin calldata origin,
        address receiver,
        bytes32 guid,
        bytes calldata message,
        bytes calldata extraData
    ) external payable;
}

/// @notice SendUln302 owner calls.
interface ILocalSendUln {
    function setDefaultUlnConfigs(SetDefaultUlnConfigParam[] calldata params) external;
    function setDefaultExecutorConfigs(SetDefaultExecutorConfigParam[] calldata params) external;
}

/// @notice ReceiveUln302 owner and DVN calls.
interface ILocalReceiveUln {
    function setDefaultUlnConfigs(SetDefaultUlnConfigParam[] calldata params) external;
    function verify(bytes calldata packetHeader, bytes32 payloadHash, uint64 confirmations) external;
    function commitVerification(bytes calldata packetHeader, bytes32 payloadHash) external;
    /// @notice A DVN's stored verification of `(keccak256(header), payloadHash)`, deleted again by
    /// `commitVerification` (`ReceiveUlnBase.hashLookup`).
    function hashLookup(bytes32 headerHash, bytes32 payloadHash, address dvn)
        external
        view
        returns (bool submitted, uint64 confirmations);
}
