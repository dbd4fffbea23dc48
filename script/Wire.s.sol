// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {Script} from "forge-std/Script.sol";
import {console} from "forge-std/console.sol";
import {stdJson} from "forge-std/StdJson.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

import {LocalLzStack} from "./LocalLzStack.s.sol";
import {ILocalEndpoint} from "../contracts/src/local/ILzStack.sol";
import {SettlementEscrow} from "../contracts/src/SettlementEscrow.sol";

/// @notice Step 2 of a local deployment, run once per chain after every chain ran Deploy.s.sol: reads
/// deployments/<this chain_id>.json and deployments/<remote chain_id>.json for each remote, configures
/// the endpoint's default path to the remote eid if Deploy did not (the endpoint needs it to call the eid
/// supported), then wires the escrow explicitly (R4): its own send and receive library, its own ULN DVN
/// and executor configuration (receive side: the relayer's and the verifier's DVN, both required, R5),
/// and the remote escrow as peer.
///
/// While the broadcaster still owns the escrow (first run), the calls are made directly and the
/// escrow's ownership and LayerZero delegate role then move to the timelock (unless HANDOVER=0). Once
/// the timelock owns it, the same calls are scheduled through the timelock (the broadcaster must be its
/// proposer); a later run with the same arguments executes them once the delay has passed. So every
/// later wiring change waits longer than `maxSettlementDuration` and cannot touch a live settlement.
///
/// Env: REMOTE_CHAIN_IDS (comma-separated chain ids of the remote deployments, required), HANDOVER
/// (default 1). Must be broadcast by the owner recorded in this chain's deployment file.
///
///   REMOTE_CHAIN_IDS=31338 forge script script/Wire.s.sol --broadcast \
///     --rpc-url http://127.0.0.1:8545 --private-key 0x..
contract Wire is Script, LocalLzStack {
    using stdJson for string;

    /// @notice The deployment file was written for another chain than the RPC's.
    error WireChainMismatch(uint256 fileChainId, uint256 rpcChainId);

    /// @notice Wires this chain's escrow to every remote deployment (directly, or through the timelock).
    function run() external {
        uint256[] memory remoteChainIds = vm.envUint("REMOTE_CHAIN_IDS", ",");
        string memory local = vm.readFile(string.concat("deployments/", vm.toString(block.chainid), ".json"));
        if (local.readUint(".chain_id") != block.chainid) {
            revert WireChainMismatch(local.readUint(".chain_id"), block.chainid);
        }
        Stack memory stack = Stack({
            eid: uint32(local.readUint(".eid")),
            endpoint: local.readAddress(".endpoint"),
            sendLib: local.readAddress(".send_lib"),
            receiveLib: local.readAddress(".receive_lib"),
            worker: local.readAddress(".worker"),
            relayer: local.readAddress(".relayer_dvn"),
            verifier: local.readAddress(".verifier")
        });
        SettlementEscrow escrow = SettlementEscrow(payable(local.readAddress(".escrow")));
        TimelockController timelock = TimelockController(payable(local.readAddress(".timelock")));

        vm.startBroadcast();
        (, address caller,) = vm.readCallers();
        bool direct = escrow.owner() == caller;
        for (uint256 i; i < remoteChainIds.length; ++i) {
            string memory remote = vm.readFile(string.concat("deployments/", vm.toString(remoteChainIds[i]), ".json"));
            uint32 remoteEid = uint32(remote.readUint(".eid"));
            if (ILocalEndpoint(stack.endpoint).defaultSendLibrary(remoteEid) == address(0)) {
                _configurePath(stack, remoteEid);
            }
            address remoteEscrow = remote.readAddress(".escrow");
            if (direct) _wireEscrow(stack, address(escrow), remoteEid, remoteEscrow);
            else _throughTimelock(timelock, stack, address(escrow), remoteEid, remoteEscrow);
        }
        if (direct && vm.envOr("HANDOVER", true)) {
            escrow.setDelegate(address(timelock));
            escrow.transferOwnership(address(timelock));
        }
        vm.stopBroadcast();
    }

    /// @dev Schedules the wiring batch, or executes it if it was scheduled and its delay has passed.
    function _throughTimelock(
        TimelockController timelock,
        Stack memory stack,
        address escrow,
        uint32 remoteEid,
        address remoteEscrow
    ) internal {
        (address[] memory targets, bytes[] memory payloads) = _escrowWiring(stack, escrow, remoteEid, remoteEscrow);
        uint256[] memory values = new uint256[](targets.length);
        bytes32 salt = bytes32(uint256(remoteEid));
        bytes32 id = timelock.hashOperationBatch(targets, values, payloads, bytes32(0), salt);
        if (timelock.isOperationDone(id)) {
            console.log("wiring to eid %s: already executed through the timelock", remoteEid);
        } else if (timelock.isOperationReady(id)) {
            timelock.executeBatch(targets, values, payloads, bytes32(0), salt);
            console.log("wiring to eid %s: executed through the timelock", remoteEid);
        } else if (timelock.isOperation(id)) {
            console.log("wiring to eid %s: scheduled, ready at %s", remoteEid, timelock.getTimestamp(id));
        } else {
            _schedule(timelock, targets, values, payloads, salt);
            console.log("wiring to eid %s: scheduled; run again after the timelock delay", remoteEid);
        }
    }

    function _schedule(
        TimelockController timelock,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory payloads,
        bytes32 salt
    ) internal {
        uint256 delay = timelock.getMinDelay();
        timelock.scheduleBatch(targets, values, payloads, bytes32(0), salt, delay);
    }
}
