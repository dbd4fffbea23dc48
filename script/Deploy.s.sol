// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {Script} from "forge-std/Script.sol";
import {stdJson} from "forge-std/StdJson.sol";

import {LocalLzStack} from "./LocalLzStack.s.sol";
import {SettlementEscrow} from "../contracts/src/SettlementEscrow.sol";
import {DemoToken} from "../contracts/src/demo/DemoToken.sol";

/// @notice Step 1 of a local deployment: on one chain, deploys the real LayerZero v2 stack (EndpointV2,
/// SendUln302, ReceiveUln302 from the lzstack artifacts), the zero-fee worker (send-side DVN and
/// executor), the SettlementEscrow and two LOCAL-DEMO tokens, then writes deployments/<chain_id>.json.
///
/// Env: EID (this chain's endpoint id, required), RELAYER (receive-side DVN = the coordinator's relayer,
/// required), ATTESTER (escrow attester, required), REMOTE_EIDS (comma-separated remote eids whose
/// paths to configure now; optional, Wire.s.sol configures missing paths too).
/// The broadcaster (--private-key) owns the endpoint, the libraries and the escrow.
///
///   FOUNDRY_PROFILE=lzstack forge build
///   EID=40101 RELAYER=0x.. ATTESTER=0x.. forge script script/Deploy.s.sol --broadcast \
///     --rpc-url http://127.0.0.1:8545 --private-key 0x..
contract Deploy is Script, LocalLzStack {
    using stdJson for string;

    function run() external {
        uint32 eid = uint32(vm.envUint("EID"));
        address relayer = vm.envAddress("RELAYER");
        address attester = vm.envAddress("ATTESTER");
        uint256[] memory remotes = vm.envOr("REMOTE_EIDS", ",", new uint256[](0));
        uint256 deployBlock = block.number;

        vm.startBroadcast();
        (, address owner,) = vm.readCallers();
        Stack memory stack = _deployStack(eid, owner, relayer);
        for (uint256 i; i < remotes.length; ++i) {
            _configurePath(stack, uint32(remotes[i]));
        }
        SettlementEscrow escrow = new SettlementEscrow(stack.endpoint, owner, attester, 1 hours);
        DemoToken bond = new DemoToken("Lockstep Demo Bond", "BOND", 18);
        DemoToken cash = new DemoToken("Lockstep Demo Cash", "CASH", 6);
        vm.stopBroadcast();

        string memory tokens = "tokens";
        tokens.serialize("BOND", address(bond));
        tokens = tokens.serialize("CASH", address(cash));
        string memory obj = "deployment";
        obj.serialize("chain_id", block.chainid);
        obj.serialize("eid", uint256(eid));
        obj.serialize("endpoint", stack.endpoint);
        obj.serialize("send_lib", stack.sendLib);
        obj.serialize("receive_lib", stack.receiveLib);
        obj.serialize("worker", stack.worker);
        obj.serialize("escrow", address(escrow));
        obj.serialize("relayer", relayer);
        obj.serialize("attester", attester);
        obj.serialize("owner", owner);
        obj.serialize("tokens", tokens);
        string memory json = obj.serialize("deploy_block", deployBlock);
        json.write(string.concat("deployments/", vm.toString(block.chainid), ".json"));
    }
}
