// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.22;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Takes a 1% fee on every transfer (not on mint): the receiver gets less than `amount`.
contract FeeOnTransferToken is ERC20 {
    constructor() ERC20("Fee On Transfer", "FOT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) return super._update(from, to, value);
        uint256 fee = value / 100;
        super._update(from, address(0xFEE), fee);
        super._update(from, to, value - fee);
    }
}

/// @notice ERC-777-like: on every transfer it calls an arbitrary hook (set by the attacker) before
/// moving the balance, and bubbles up the hook's revert.
contract ReentrantToken is ERC20 {
    address public hookTarget;
    bytes public hookData;
    bool private _inHook;

    constructor() ERC20("Reentrant", "REE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setHook(address target, bytes calldata data) external {
        hookTarget = target;
        hookData = data;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (hookTarget != address(0) && !_inHook && from != address(0)) {
            _inHook = true;
            (bool ok, bytes memory ret) = hookTarget.call(hookData);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 32), mload(ret))
                }
            }
            _inHook = false;
        }
        super._update(from, to, value);
    }
}

/// @notice Returns false instead of reverting and moves nothing.
contract FalseReturnToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    function transfer(address, uint256) external pure returns (bool) {
        return false;
    }

    function transferFrom(address, address, uint256) external pure returns (bool) {
        return false;
    }
}

/// @notice USDT-like: `transfer`/`transferFrom` return nothing.
contract NoReturnToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function approve(address spender, uint256 amount) external {
        allowance[msg.sender][spender] = amount;
    }

    function transfer(address to, uint256 amount) external {
        require(balanceOf[msg.sender] >= amount, "balance");
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
    }

    function transferFrom(address from, address to, uint256 amount) external {
        require(balanceOf[from] >= amount, "balance");
        require(allowance[from][msg.sender] >= amount, "allowance");
        allowance[from][msg.sender] -= amount;
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
    }
}

/// @notice One ERC-20 with every hostile behaviour of security.md behind a switch, flipped at any moment:
/// blacklist (USDC/USDT freeze) of senders and receivers, pause, fee on transfer, `false` instead of a
/// revert, burning all gas, and an ERC-777-style hook called before every transfer.
contract SwitchToken is ERC20 {
    mapping(address => bool) public blacklisted;
    bool public paused;
    bool public returnFalse;
    bool public burnGas;
    uint256 public feeBps;
    address public hookTarget;
    bytes public hookData;
    bool private _inHook;
    /// @notice When set, the fee of a transfer goes to `feeSinkOf(to)` instead of 0xFEE, so a test can tell
    /// which payout it was skimmed from.
    bool public feeSinkPerReceiver;

    /// @notice The transfer was refused (paused, or a party is blacklisted).
    error SwitchTokenRefused(address from, address to);

    constructor() ERC20("Switch", "SWT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function burn(address from, uint256 amount) external {
        _burn(from, amount);
    }

    function setBlacklisted(address who, bool on) external {
        blacklisted[who] = on;
    }

    function setPaused(bool on) external {
        paused = on;
    }

    function setReturnFalse(bool on) external {
        returnFalse = on;
    }

    function setBurnGas(bool on) external {
        burnGas = on;
    }

    function setFeeBps(uint256 bps) external {
        feeBps = bps;
    }

    function setHook(address target, bytes calldata data) external {
        hookTarget = target;
        hookData = data;
    }

    function setFeeSinkPerReceiver(bool on) external {
        feeSinkPerReceiver = on;
    }

    /// @notice Where the fee of a transfer to `to` goes.
    function feeSinkOf(address to) public view returns (address) {
        return feeSinkPerReceiver ? address(uint160(uint256(keccak256(abi.encode("fee sink", to))))) : address(0xFEE);
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        if (returnFalse) return false;
        return super.transfer(to, value);
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (returnFalse) return false;
        return super.transferFrom(from, to, value);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) return super._update(from, to, value);
        if (burnGas) {
            // Burn the caller's gas allowance (at most 1M, so a test with an unbounded gas limit ends).
            uint256 stop = gasleft() > 1_000_000 ? gasleft() - 1_000_000 : 0;
            while (gasleft() > stop) {}
            revert SwitchTokenRefused(from, to);
        }
        if (paused || blacklisted[from] || blacklisted[to]) revert SwitchTokenRefused(from, to);
        if (hookTarget != address(0) && !_inHook) {
            _inHook = true;
            (bool ok,) = hookTarget.call(hookData);
            ok; // the hook's outcome does not matter; what matters is that it ran mid-transfer
            _inHook = false;
        }
        uint256 fee = value * feeBps / 10_000;
        if (fee != 0) super._update(from, feeSinkOf(to), fee);
        super._update(from, to, value - fee);
    }
}
