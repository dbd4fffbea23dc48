// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice The ERC-3643 identity-registry call the coordinator uses to screen holders.
interface IIdentityRegistry {
    /// @notice Whether `account` is a verified holder (identity and claims in order).
    function isVerified(address account) external view returns (bool);
}

/// @title PermissionedToken
/// @notice LOCAL DEMO ONLY. An ERC-3643-style permissioned security token, reduced to what Lockstep meets:
/// transfers succeed only between verified, unfrozen holders while the token is not paused. It is its
/// own identity registry (`identityRegistry()` returns this contract) and exposes the ERC-3643
/// compliance check `canTransfer(from, to, amount)`. The owner (the issuer's agent) verifies, unverifies
/// and freezes holders and pauses the token at any moment, which is exactly what the escrow's per-leg
/// isolation must survive (a status that changes after a settlement locked). Minting is open, like
/// DemoToken: it has no value by construction. Never deploy it anywhere real.
contract PermissionedToken is ERC20, ERC20Permit, Ownable, IIdentityRegistry {
    /// @notice Whether each address is a verified holder.
    mapping(address account => bool) public isVerified;
    /// @notice Whether each address is frozen (can neither send nor receive).
    mapping(address account => bool) public isFrozen;
    /// @notice Whether every transfer is paused.
    bool public paused;

    /// @notice A transfer broke the token's rules (unverified receiver, frozen party, paused).
    error PermissionedTransferRefused(address from, address to, uint256 amount);

    /// @notice A holder's verification changed.
    event IdentityVerified(address indexed account, bool verified);
    /// @notice A holder was frozen or unfrozen.
    event AddressFrozen(address indexed account, bool frozen);
    /// @notice The token was paused or unpaused.
    event TokenPaused(bool paused);

    /// @param name_ Token name (also the EIP-712 domain name of its permits).
    /// @param symbol_ Token symbol.
    /// @param owner_ The issuer's agent.
    constructor(string memory name_, string memory symbol_, address owner_)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
        Ownable(owner_)
    {}

    /// @notice ERC-3643: the registry of verified identities (this contract).
    function identityRegistry() external view returns (IIdentityRegistry) {
        return this;
    }

    /// @notice ERC-3643 compliance check: would a transfer of `amount` from `from` to `to` be allowed now?
    function canTransfer(address from, address to, uint256 amount) public view returns (bool) {
        return
            !paused && !isFrozen[from] && !isFrozen[to] && isVerified[from] && isVerified[to]
                && balanceOf(from) >= amount;
    }

    /// @notice Mints `amount` to a verified `to`. Open to anyone: a demo token has no value.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Verifies or unverifies `account`.
    function setVerified(address account, bool verified) external onlyOwner {
        isVerified[account] = verified;
        emit IdentityVerified(account, verified);
    }

    /// @notice Freezes or unfreezes `account`.
    function setAddressFrozen(address account, bool frozen) external onlyOwner {
        isFrozen[account] = frozen;
        emit AddressFrozen(account, frozen);
    }

    /// @notice Pauses or unpauses every transfer.
    function setPaused(bool paused_) external onlyOwner {
        paused = paused_;
        emit TokenPaused(paused_);
    }

    /// @dev Transfers (not mints or burns) must pass `canTransfer`; mints need a verified receiver.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            if (!canTransfer(from, to, value)) revert PermissionedTransferRefused(from, to, value);
        } else if (from == address(0) && !isVerified[to]) {
            revert PermissionedTransferRefused(from, to, value);
        }
        super._update(from, to, value);
    }
}
