// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

// Pulls the real LayerZero v2 protocol contracts into the `lzstack` profile so their
// artifacts land in out-lzstack/ for the deploy script and the Rust deployer.
import {EndpointV2} from "@layerzerolabs/lz-evm-protocol-v2/contracts/EndpointV2.sol";
import {SendUln302} from "@layerzerolabs/lz-evm-messagelib-v2/contracts/uln/uln302/SendUln302.sol";
import {ReceiveUln302} from "@layerzerolabs/lz-evm-messagelib-v2/contracts/uln/uln302/ReceiveUln302.sol";
