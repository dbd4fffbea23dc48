// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {Script} from "forge-std/Script.sol";
import {stdJson} from "forge-std/StdJson.sol";
import {RelayerDvn} from "../contracts/src/relay/RelayerDvn.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

import {LocalLzStack} from "./LocalLzStack.s.sol";
import {SettlementEscrow} from "../contracts/src/SettlementEscrow.sol";
import {DemoToken} from "../contracts/src/demo/DemoToken.sol";
import {PermissionedToken} from "../contracts/src/demo/PermissionedToken.sol";

/// @notice Step 1 of a local deployment: on one chain, deploys the real LayerZero v2 stack (EndpointV2,
/// SendUln302, ReceiveUln302 from the lzstack artifacts), the zero-fee worker (send-side DVN and
/// executor), an OpenZeppelin TimelockController, the SettlementEscrow, two LOCAL-DEMO tokens and a demo
/// permissioned token, then writes deployments/<chain_id>.json.
///
/// The escrow starts owned by the broadcaster so that Wire.s.sol can wire it; Wire.s.sol then hands
/// ownership and the LayerZero delegate role to the timelock (R4 of docs/protocol.md). The timelock's
/// minimum delay must exceed the escrow's `maxSettlementDuration`; this script refuses otherwise.
///
/// Env: EID (this chain's endpoint id, required), RELAYER (the coordinator's relayer key, required: it
/// operates the RelayerDvn contract deployed here, the coordinator's receive-side DVN), VERIFIER (the second required receive-side DVN = the independent `lockstep verifier`'s key,
/// required; must differ from RELAYER), ATTESTER (escrow attester, required), REMOTE_EIDS (comma-separated remote eids whose
/// default paths to configure now; optional, Wire.s.sol configures missing paths too),
/// MAX_SETTLEMENT_DURATION (seconds, default 7200), TIMELOCK_DELAY (seconds, default duration + 1),
/// TIMELOCK_ADMIN (proposer, canceller and executor of the timelock; default the broadcaster).
/// The broadcaster owns the endpoint and the libraries.
///
///   FOUNDRY_PROFILE=lzstack forge build
///   EID=40101 RELAYER=0x.. ATTESTER=0x.. forge script script/Deploy.s.sol --broadcast \
///     --rpc-url http://127.0.0.1:8545 --private-key 0x..
contract Deploy is Script, LocalLzStack {
    using stdJson for string;

    /// @notice The timelock delay does not exceed the escrow's maximum settlement duration (R4).
    error DeployTimelockTooShort(uint256 delay, uint256 maxSettlementDuration);

    /// @notice The verifier DVN is missing or the relayer's own key (R5 needs two different parties).
    error DeployVerifierInvalid(address relayer, address verifier);

    /// @notice What one run deployed, for the deployment file.
    struct Deployed {
        Stack stack;
        address relayerKey;
        address owner;
        address attester;
        address admin;
        address timelock;
        address escrow;
        address bond;
        address cash;
        address security;
        uint256 delay;
        uint256 maxDuration;
        uint256 deployBlock;
    }

    /// @notice Deploys everything on the RPC's chain and writes deployments/<chain_id>.json.
    function run() external {
        Deployed memory d;
        uint32 eid = uint32(vm.envUint("EID"));
        address relayer = vm.envAddress("RELAYER");
        address verifier = vm.envAddress("VERIFIER");
        if (verifier == address(0) || verifier == relayer) revert DeployVerifierInvalid(relayer, verifier);
        d.attester = vm.envAddress("ATTESTER");
        uint256[] memory remotes = vm.envOr("REMOTE_EIDS", ",", new uint256[](0));
        d.maxDuration = vm.envOr("MAX_SETTLEMENT_DURATION", uint256(2 hours));
        d.delay = vm.envOr("TIMELOCK_DELAY", d.maxDuration + 1);
        if (d.delay <= d.maxDuration) revert DeployTimelockTooShort(d.delay, d.maxDuration);
        d.deployBlock = block.number;

        vm.startBroadcast();
        (, d.owner,) = vm.readCallers();
        d.admin = vm.envOr("TIMELOCK_ADMIN", d.owner);
        d.stack = _deployStack(eid, d.owner, relayer, verifier);
        // The coordinator's DVN is its RelayerDvn contract (operated by the relayer key), so the relayer
        // verifies, commits and delivers a packet in one transaction.
        d.relayerKey = relayer;
        d.stack.relayer = address(new RelayerDvn(d.stack.endpoint, relayer));
        for (uint256 i; i < remotes.length; ++i) {
            _configurePath(d.stack, uint32(remotes[i]));
        }
        address[] memory roles = new address[](1);
        roles[0] = d.admin;
        // No admin: the timelock administers itself, so its delay binds every role change too.
        d.timelock = address(new TimelockController(d.delay, roles, roles, address(0)));
        d.escrow = address(new SettlementEscrow(d.stack.endpoint, d.owner, d.attester, d.maxDuration));
        d.bond = address(new DemoToken("Lockstep Demo Bond", "BOND", 18));
        d.cash = address(new DemoToken("Lockstep Demo Cash", "CASH", 6));
        PermissionedToken security = new PermissionedToken("Lockstep Demo Security", "SEC", d.owner);
        security.setVerified(d.escrow, true);
        d.security = address(security);
        vm.stopBroadcast();
        _write(d);
    }

    function _write(Deployed memory d) internal {
        string memory tokens = "tokens";
        tokens.serialize("BOND", d.bond);
        tokens.serialize("CASH", d.cash);
        tokens = tokens.serialize("SEC", d.security);
        string memory obj = "deployment";
        obj.serialize("chain_id", block.chainid);
        obj.serialize("eid", uint256(d.stack.eid));
        obj.serialize("endpoint", d.stack.endpoint);
        obj.serialize("send_lib", d.stack.sendLib);
        obj.serialize("receive_lib", d.stack.receiveLib);
        obj.serialize("worker", d.stack.worker);
        obj.serialize("escrow", d.escrow);
        obj.serialize("relayer", d.relayerKey);
        obj.serialize("relayer_dvn", d.stack.relayer);
        obj.serialize("verifier", d.stack.verifier);
        obj.serialize("attester", d.attester);
        obj.serialize("owner", d.owner);
        obj.serialize("timelock", d.timelock);
        obj.serialize("timelock_admin", d.admin);
        obj.serialize("timelock_min_delay", d.delay);
        obj.serialize("max_settlement_duration", d.maxDuration);
        obj.serialize("tokens", tokens);
        string memory json = obj.serialize("deploy_block", d.deployBlock);
        json.write(string.concat("deployments/", vm.toString(block.chainid), ".json"));
    }
}
