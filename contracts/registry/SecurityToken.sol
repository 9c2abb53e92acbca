// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IIdentityRegistry} from "../common/IIdentityRegistry.sol";
import {Freezable} from "../common/Freezable.sol";
import {TransferErrors} from "../common/TransferErrors.sol";

/// @title SecurityToken
/// @notice One security on the permissioned register of record (ERC-20 with ERC-3643 views). Units move
///         only between verified investors; the bridge escrow may hold units on their behalf. Agents
///         issue, redeem, freeze, force transfers and pause.
contract SecurityToken is ERC20, Pausable, Freezable, TransferErrors {
    bytes32 private immutable _securityId;
    uint8 private immutable _decimals;
    IIdentityRegistry private immutable _identityRegistry;
    address private _escrow;

    event EscrowSet(address indexed escrow);

    /// @notice Units reach the escrow only through the escrow itself (`bridgeOut`), never by a plain
    ///         transfer, so every escrowed unit is accounted for in `lockedBalance` (INV-001).
    error TransferToEscrowDirect(address from);

    constructor(
        string memory name_,
        string memory symbol_,
        uint8 decimals_,
        bytes32 securityId_,
        IIdentityRegistry identityRegistry_,
        address admin
    ) ERC20(name_, symbol_) {
        _securityId = securityId_;
        _decimals = decimals_;
        _identityRegistry = identityRegistry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(AGENT_ROLE, admin);
    }

    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice The security's id (bytes32, shared with its wrapped tokens).
    function securityId() external view returns (bytes32) {
        return _securityId;
    }

    /// @notice ERC-3643: the investor registry deciding who may hold units.
    function identityRegistry() external view returns (IIdentityRegistry) {
        return _identityRegistry;
    }

    /// @notice The bridge escrow allowed to hold units without being an investor.
    function escrow() external view returns (address) {
        return _escrow;
    }

    /// @notice Sets the bridge escrow (admin).
    function setEscrow(address escrow_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _escrow = escrow_;
        emit EscrowSet(escrow_);
    }

    /// @notice Issues `amount` new units to a verified investor.
    function mint(address to, uint256 amount) external onlyRole(AGENT_ROLE) {
        _mint(to, amount);
    }

    /// @notice Redeems `amount` units of `from`.
    function burn(address from, uint256 amount) external onlyRole(AGENT_ROLE) {
        _burn(from, amount);
    }

    /// @notice Agent transfer (court order, recovery): ignores freezes, still requires a verified recipient.
    ///         Frozen units it moves are unfrozen, so frozen units never exceed the balance.
    function forcedTransfer(address from, address to, uint256 amount) external onlyRole(AGENT_ROLE) {
        uint256 balance = balanceOf(from);
        uint256 frozen = getFrozenTokens(from);
        uint256 free = balance > frozen ? balance - frozen : 0;
        if (amount > free) _unfreeze(from, amount - free > frozen ? frozen : amount - free);
        _forced = true;
        _transfer(from, to, amount);
        _forced = false;
    }

    function pause() external onlyRole(AGENT_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(AGENT_ROLE) {
        _unpause();
    }

    bool private transient _forced;

    function _update(address from, address to, uint256 value) internal override {
        if (!_forced) {
            _requireNotPaused();
            if (from != address(0)) _checkSender(from, value);
        }
        if (to != address(0)) {
            if (to == _escrow && msg.sender != _escrow) revert TransferToEscrowDirect(from);
            if (to != _escrow && !_identityRegistry.isVerified(to)) revert TransferToUnverified(to);
            if (!_forced && isFrozen(to)) revert TransferFrozen(to);
        }
        super._update(from, to, value);
    }

    function _checkSender(address from, uint256 value) private view {
        if (from != _escrow && !_identityRegistry.isVerified(from)) revert TransferFromUnverified(from);
        if (isFrozen(from)) revert TransferFrozen(from);
        uint256 balance = balanceOf(from);
        uint256 frozen = getFrozenTokens(from);
        uint256 unfrozen = balance > frozen ? balance - frozen : 0;
        if (value > unfrozen) revert TransferExceedsUnfrozen(from, value, unfrozen);
    }
}
