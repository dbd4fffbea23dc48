// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {Script} from "forge-std/Script.sol";
import {stdJson} from "forge-std/StdJson.sol";

import {LocalLzStack} from "./LocalLzStack.s.sol";
import {ILocalEndpoint} from "../contracts/src/local/ILzStack.sol";
import {SettlementEscrow} from "../contracts/src/SettlementEscrow.sol";

/// @notice Step 2 of a local deployment, run once per chain after every chain ran Deploy.s.sol: reads
/// deployments/<this chain_id>.json and deployments/<remote chain_id>.json for each remote, configures
/// the LayerZero path to the remote eid if Deploy did not (send ULN: worker as DVN and executor;
/// receive ULN: relayer as DVN; default libraries) and sets the remote escrow as this escrow's peer.
/// Idempotent. Must be broadcast by the owner recorded in this chain's deployment file.
///
/// Env: REMOTE_CHAIN_IDS (comma-separated chain ids of the remote deployments, required).
///
///   REMOTE_CHAIN_IDS=31338 forge script script/Wire.s.sol --broadcast \
///     --rpc-url http://127.0.0.1:8545 --private-key 0x..
contract Wire is Script, LocalLzStack {
    using stdJson for string;

    /// @notice The deployment file was written for another chain than the RPC's.
    error WireChainMismatch(uint256 fileChainId, uint256 rpcChainId);

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
            relayer: local.readAddress(".relayer")
        });
        SettlementEscrow escrow = SettlementEscrow(payable(local.readAddress(".escrow")));

        vm.startBroadcast();
        for (uint256 i; i < remoteChainIds.length; ++i) {
            string memory remote = vm.readFile(string.concat("deployments/", vm.toString(remoteChainIds[i]), ".json"));
            uint32 remoteEid = uint32(remote.readUint(".eid"));
            if (ILocalEndpoint(stack.endpoint).defaultSendLibrary(remoteEid) == address(0)) {
                _configurePath(stack, remoteEid);
            }
            escrow.setPeer(remoteEid, bytes32(uint256(uint160(remote.readAddress(".escrow")))));
        }
        vm.stopBroadcast();
    }
}
