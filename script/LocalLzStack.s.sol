// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {CommonBase} from "forge-std/Base.sol";

import {ZeroFeeWorker} from "../contracts/src/local/ZeroFeeWorker.sol";
import {
    ILocalEndpoint,
    ILocalSendUln,
    ILocalReceiveUln,
    UlnConfig,
    SetDefaultUlnConfigParam,
    ExecutorConfig,
    SetDefaultExecutorConfigParam,
    SetConfigParam
} from "../contracts/src/local/ILzStack.sol";

/// @notice Deploys and configures the real LayerZero v2 stack on a local chain (shared by
/// script/Deploy.s.sol, script/Wire.s.sol and the real-stack tests). Needs the `lzstack` profile's
/// artifacts: run `FOUNDRY_PROFILE=lzstack forge build` first.
abstract contract LocalLzStack is CommonBase {
    /// @notice Executor max message size configured for every path (the escrow's messages are ~600 bytes).
    uint32 internal constant MAX_MESSAGE_SIZE = 10_000;

    /// @notice SendUln302/ReceiveUln302 config type of the executor configuration.
    uint32 internal constant CONFIG_TYPE_EXECUTOR = 1;
    /// @notice SendUln302/ReceiveUln302 config type of the ULN (DVN) configuration.
    uint32 internal constant CONFIG_TYPE_ULN = 2;

    /// @notice Creating a contract from an lzstack artifact failed (artifact missing or constructor reverted).
    error LocalLzStackCreateFailed(string artifact);

    /// @notice One chain's LayerZero contracts.
    struct Stack {
        uint32 eid;
        address endpoint;
        address sendLib;
        address receiveLib;
        address worker;
        address relayer;
        /// @dev The independent verifier's DVN (`lockstep verifier`); zero for a one-DVN test stack.
        address verifier;
    }

    /// @notice Deploys EndpointV2, SendUln302, ReceiveUln302 and a ZeroFeeWorker, and registers both libraries.
    /// The caller (broadcaster) becomes the owner of the libraries; `owner` owns the endpoint. The receive
    /// paths require the relayer's DVN alone (the real-stack tests; deployments use the overload with a verifier).
    function _deployStack(uint32 eid, address owner, address relayer) internal returns (Stack memory stack) {
        return _deployStack(eid, owner, relayer, address(0));
    }

    /// @notice As above, with every receive path requiring two DVNs: `relayer` (the coordinator's) and
    /// `verifier` (the independent `lockstep verifier`'s), R5 of the security design.
    function _deployStack(uint32 eid, address owner, address relayer, address verifier)
        internal
        returns (Stack memory stack)
    {
        stack.eid = eid;
        stack.relayer = relayer;
        stack.verifier = verifier;
        stack.endpoint = _create("out-lzstack/EndpointV2.sol/EndpointV2.json", abi.encode(eid, owner));
        stack.sendLib =
            _create("out-lzstack/SendUln302.sol/SendUln302.json", abi.encode(stack.endpoint, uint256(0), uint256(0)));
        stack.receiveLib = _create("out-lzstack/ReceiveUln302.sol/ReceiveUln302.json", abi.encode(stack.endpoint));
        stack.worker = address(new ZeroFeeWorker());
        ILocalEndpoint(stack.endpoint).registerLibrary(stack.sendLib);
        ILocalEndpoint(stack.endpoint).registerLibrary(stack.receiveLib);
    }

    /// @notice Configures the path to and from `remoteEid`: send side DVN + executor = the worker,
    /// receive side DVNs = the relayer and (if set) the verifier, both required, one confirmation; sets both default libraries for that eid.
    /// Must be called by the owner of the libraries and of the endpoint.
    function _configurePath(Stack memory stack, uint32 remoteEid) internal {
        SetDefaultUlnConfigParam[] memory sendUln = new SetDefaultUlnConfigParam[](1);
        sendUln[0] = SetDefaultUlnConfigParam(remoteEid, _ulnConfig(stack.worker));
        ILocalSendUln(stack.sendLib).setDefaultUlnConfigs(sendUln);
        SetDefaultExecutorConfigParam[] memory exec = new SetDefaultExecutorConfigParam[](1);
        exec[0] = SetDefaultExecutorConfigParam(remoteEid, ExecutorConfig(MAX_MESSAGE_SIZE, stack.worker));
        ILocalSendUln(stack.sendLib).setDefaultExecutorConfigs(exec);
        SetDefaultUlnConfigParam[] memory recvUln = new SetDefaultUlnConfigParam[](1);
        recvUln[0] = SetDefaultUlnConfigParam(remoteEid, _receiveUlnConfig(stack));
        ILocalReceiveUln(stack.receiveLib).setDefaultUlnConfigs(recvUln);
        ILocalEndpoint(stack.endpoint).setDefaultSendLibrary(remoteEid, stack.sendLib);
        ILocalEndpoint(stack.endpoint).setDefaultReceiveLibrary(remoteEid, stack.receiveLib, 0);
    }

    /// @notice The calls that pin an escrow's messaging to `remoteEid` explicitly (R4): its own send and
    /// receive library (never the endpoint's defaults, which the endpoint owner could change under it), its
    /// own ULN DVN and executor configuration on both, and the peer. Returned as (target, calldata) pairs
    /// so a script can make them directly (owner = broadcaster) or schedule them through the timelock.
    /// @param escrow The OApp; the caller of these calls must be its owner and LayerZero delegate.
    /// @param remoteEscrow The peer escrow on `remoteEid`.
    function _escrowWiring(Stack memory stack, address escrow, uint32 remoteEid, address remoteEscrow)
        internal
        view
        returns (address[] memory targets, bytes[] memory payloads)
    {
        targets = new address[](5);
        payloads = new bytes[](5);
        uint256 n;
        ILocalEndpoint endpoint = ILocalEndpoint(stack.endpoint);
        // The endpoint refuses to set a library that is already set (LZ_SameValue): skip pinned ones.
        if (
            endpoint.isDefaultSendLibrary(escrow, remoteEid)
                || endpoint.getSendLibrary(escrow, remoteEid) != stack.sendLib
        ) {
            targets[n] = stack.endpoint;
            payloads[n++] = abi.encodeCall(ILocalEndpoint.setSendLibrary, (escrow, remoteEid, stack.sendLib));
        }
        (address recvLib, bool recvDefault) = endpoint.getReceiveLibrary(escrow, remoteEid);
        if (recvDefault || recvLib != stack.receiveLib) {
            targets[n] = stack.endpoint;
            payloads[n++] = abi.encodeCall(ILocalEndpoint.setReceiveLibrary, (escrow, remoteEid, stack.receiveLib, 0));
        }
        SetConfigParam[] memory send = new SetConfigParam[](2);
        send[0] = SetConfigParam(remoteEid, CONFIG_TYPE_ULN, abi.encode(_ulnConfig(stack.worker)));
        send[1] =
            SetConfigParam(remoteEid, CONFIG_TYPE_EXECUTOR, abi.encode(ExecutorConfig(MAX_MESSAGE_SIZE, stack.worker)));
        targets[n] = stack.endpoint;
        payloads[n++] = abi.encodeCall(ILocalEndpoint.setConfig, (escrow, stack.sendLib, send));
        SetConfigParam[] memory recv = new SetConfigParam[](1);
        recv[0] = SetConfigParam(remoteEid, CONFIG_TYPE_ULN, abi.encode(_receiveUlnConfig(stack)));
        targets[n] = stack.endpoint;
        payloads[n++] = abi.encodeCall(ILocalEndpoint.setConfig, (escrow, stack.receiveLib, recv));
        targets[n] = escrow;
        payloads[n++] =
            abi.encodeWithSignature("setPeer(uint32,bytes32)", remoteEid, bytes32(uint256(uint160(remoteEscrow))));
        assembly ("memory-safe") {
            mstore(targets, n)
            mstore(payloads, n)
        }
    }

    /// @notice Makes the `_escrowWiring` calls directly (the caller is the escrow's owner and delegate).
    function _wireEscrow(Stack memory stack, address escrow, uint32 remoteEid, address remoteEscrow) internal {
        (address[] memory targets, bytes[] memory payloads) = _escrowWiring(stack, escrow, remoteEid, remoteEscrow);
        for (uint256 i; i < targets.length; ++i) {
            (bool ok, bytes memory ret) = targets[i].call(payloads[i]);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 32), mload(ret))
                }
            }
        }
    }

    /// @notice Builds the lzstack artifacts if they are missing (a fresh clone running `forge test`), by
    /// running `FOUNDRY_PROFILE=lzstack forge build` through ffi under a file lock.
    function _ensureLzStackArtifacts() internal {
        if (vm.exists("out-lzstack/EndpointV2.sol/EndpointV2.json")) return;
        string[] memory cmd = new string[](2);
        cmd[0] = "bash";
        cmd[1] = "contracts/lzstack/build";
        vm.ffi(cmd);
    }

    /// @notice The receive-side ULN config of `stack`'s paths: every DVN required (`requiredDVNCount` = 2
    /// with a verifier, R5), sorted ascending as ReceiveUln302 demands (LZ_ULN_Unsorted), no optional DVNs
    /// (`_ulnConfigOf` takes optional ones for operators who add a threshold of further DVNs).
    function _receiveUlnConfig(Stack memory stack) internal pure returns (UlnConfig memory) {
        if (stack.verifier == address(0)) return _ulnConfig(stack.relayer);
        address[] memory required = new address[](2);
        (required[0], required[1]) =
            stack.relayer < stack.verifier ? (stack.relayer, stack.verifier) : (stack.verifier, stack.relayer);
        return _ulnConfigOf(required, new address[](0), 0);
    }

    /// @notice A ULN config with these required DVNs and `threshold` of these optional DVNs (each list
    /// sorted ascending, no duplicates), one confirmation.
    function _ulnConfigOf(address[] memory required, address[] memory optional, uint8 threshold)
        internal
        pure
        returns (UlnConfig memory)
    {
        return UlnConfig({
            confirmations: 1,
            requiredDVNCount: uint8(required.length),
            optionalDVNCount: uint8(optional.length),
            optionalDVNThreshold: threshold,
            requiredDVNs: required,
            optionalDVNs: optional
        });
    }

    function _ulnConfig(address dvn) internal pure returns (UlnConfig memory config) {
        address[] memory required = new address[](1);
        required[0] = dvn;
        config = UlnConfig({
            confirmations: 1,
            requiredDVNCount: 1,
            optionalDVNCount: 0,
            optionalDVNThreshold: 0,
            requiredDVNs: required,
            optionalDVNs: new address[](0)
        });
    }

    function _create(string memory artifact, bytes memory args) internal returns (address addr) {
        bytes memory initCode = abi.encodePacked(vm.getCode(artifact), args);
        assembly ("memory-safe") {
            addr := create(0, add(initCode, 0x20), mload(initCode))
        }
        if (addr == address(0)) revert LocalLzStackCreateFailed(artifact);
    }
}
