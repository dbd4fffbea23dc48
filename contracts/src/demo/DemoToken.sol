// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title DemoToken
/// @notice LOCAL DEMO ONLY. An EIP-2612 ERC-20 that ANYONE can mint, deployed by script/Deploy.s.sol on
/// local anvil chains so the demo parties have assets and cash to settle. Never deploy it anywhere real.
contract DemoToken is ERC20, ERC20Permit {
    uint8 private immutable _decimals;

    /// @param name_ Token name (also the EIP-712 domain name of its permits).
    /// @param symbol_ Token symbol.
    /// @param decimals_ Decimals.
    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) ERC20Permit(name_) {
        _decimals = decimals_;
    }

    /// @notice Mints `amount` to `to`. Open to anyone: this token has no value by construction.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return _decimals;
    }
}
