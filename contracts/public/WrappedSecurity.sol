// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {Freezable} from "../common/Freezable.sol";
import {TransferErrors} from "../common/TransferErrors.sol";
import {HolderRegistry} from "./HolderRegistry.sol";

/// @title WrappedSecurity
/// @notice The public-chain representation of one registry security (ERC-20 with ERC-3643 views), backed
///         1:1 by units locked in the registry's BridgeEscrow. Only the gateway mints and burns. Every
///         transfer requires both sides eligible in the HolderRegistry and not frozen, the sender out of
///         lock-up (Rule 144 / Reg S), and the holder count within its cap (INV-004, INV-005).
contract WrappedSecurity is ERC20, Pausable, Freezable, TransferErrors {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    bytes32 private immutable _securityId;
    uint8 private immutable _decimals;
    HolderRegistry private immutable _holders;
    uint256 private _maxHolders;
    uint256 private _holderCount;
    mapping(address holder => uint64) private _lockedUntil;

    event MaxHoldersSet(uint256 maxHolders);
    event LockupSet(address indexed holder, uint64 lockedUntil);

    constructor(
        string memory name_,
        string memory symbol_,
        uint8 decimals_,
        bytes32 securityId_,
        HolderRegistry holders,
        address admin
    ) ERC20(name_, symbol_) {
        _securityId = securityId_;
        _decimals = decimals_;
        _holders = holders;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(AGENT_ROLE, admin);
    }

    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice The security's id, equal to the registry token's.
    function securityId() external view returns (bytes32) {
        return _securityId;
    }

    /// @notice ERC-3643: the registry deciding who may hold this token.
    function identityRegistry() external view returns (HolderRegistry) {
        return _holders;
    }

    /// @notice ERC-3643: the compliance checker; this token checks compliance itself (`canTransfer`).
    function compliance() external view returns (address) {
        return address(this);
    }

    /// @notice Addresses with a non-zero balance.
    function holderCount() external view returns (uint256) {
        return _holderCount;
    }

    /// @notice Holder cap (0: none).
    function maxHolders() external view returns (uint256) {
        return _maxHolders;
    }

    /// @notice Until when `holder` may not transfer (Unix seconds; 0: never locked).
    function lockedUntil(address holder) external view returns (uint64) {
        return _lockedUntil[holder];
    }

    /// @notice Sets the holder cap (admin); 0 removes it.
    function setMaxHolders(uint256 maxHolders_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _maxHolders = maxHolders_;
        emit MaxHoldersSet(maxHolders_);
    }

    /// @notice Mints `amount` to `to` (gateway only); a later `lockedUntil` extends `to`'s lock-up.
    function mint(address to, uint256 amount, uint64 lockedUntil_) external onlyRole(MINTER_ROLE) {
        if (lockedUntil_ > _lockedUntil[to]) {
            _lockedUntil[to] = lockedUntil_;
            emit LockupSet(to, lockedUntil_);
        }
        _mint(to, amount);
    }

    /// @notice Burns `amount` of `from` (gateway only, on bridge-back).
    function burn(address from, uint256 amount) external onlyRole(MINTER_ROLE) {
        _burn(from, amount);
    }

    function pause() external onlyRole(AGENT_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(AGENT_ROLE) {
        _unpause();
    }

    /// @notice Read-only compliance check: whether `from` may send `amount` to `to` now, and if not the
    ///         selector of the error a transfer would revert with.
    function canTransfer(address from, address to, uint256 amount) external view returns (bool, bytes4) {
        bytes4 reason = _refusal(from, to, amount);
        return (reason == bytes4(0), reason);
    }

    function _update(address from, address to, uint256 value) internal override {
        bytes4 reason = _refusal(from, to, value);
        if (reason != bytes4(0)) _revertWith(reason, from, to, value);
        bool joins = to != address(0) && value > 0 && balanceOf(to) == 0;
        super._update(from, to, value);
        if (joins) ++_holderCount;
        if (from != address(0) && value > 0 && balanceOf(from) == 0) --_holderCount;
    }

    function _refusal(address from, address to, uint256 value) private view returns (bytes4) {
        if (from != address(0) && to != address(0) && paused()) return Pausable.EnforcedPause.selector;
        if (from != address(0)) {
            if (isFrozen(from)) return TransferFrozen.selector;
            uint256 balance = balanceOf(from);
            uint256 frozen = getFrozenTokens(from);
            if (value > (balance > frozen ? balance - frozen : 0)) return TransferExceedsUnfrozen.selector;
            if (to != address(0)) {
                if (!_holders.isEligible(from, _securityId)) return TransferFromUnverified.selector;
                if (_lockedUntil[from] > block.timestamp) return LockupActive.selector;
            }
        }
        if (to != address(0)) {
            if (!_holders.isEligible(to, _securityId)) return TransferToUnverified.selector;
            if (isFrozen(to)) return TransferFrozen.selector;
            bool joins = value > 0 && balanceOf(to) == 0;
            bool leaves = from != address(0) && from != to && value > 0 && value == balanceOf(from);
            if (joins && !leaves && _maxHolders != 0 && _holderCount >= _maxHolders) return HolderCapReached.selector;
        }
        return bytes4(0);
    }

    function _revertWith(bytes4 reason, address from, address to, uint256 value) private view {
        if (reason == Pausable.EnforcedPause.selector) revert EnforcedPause();
        if (reason == TransferFrozen.selector) revert TransferFrozen(isFrozen(from) ? from : to);
        if (reason == TransferExceedsUnfrozen.selector) {
            uint256 balance = balanceOf(from);
            uint256 frozen = getFrozenTokens(from);
            revert TransferExceedsUnfrozen(from, value, balance > frozen ? balance - frozen : 0);
        }
        if (reason == TransferFromUnverified.selector) revert TransferFromUnverified(from);
        if (reason == LockupActive.selector) revert LockupActive(from, _lockedUntil[from]);
        if (reason == TransferToUnverified.selector) revert TransferToUnverified(to);
        revert HolderCapReached(_maxHolders);
    }
}
