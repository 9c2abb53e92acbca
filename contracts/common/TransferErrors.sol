// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

/// @title TransferErrors
/// @notice Why a security transfer was refused; shared by SecurityToken and WrappedSecurity.
interface TransferErrors {
    error TransferFromUnverified(address from);
    error TransferToUnverified(address to);
    error TransferFrozen(address wallet);
    error TransferExceedsUnfrozen(address from, uint256 amount, uint256 unfrozen);
    error LockupActive(address holder, uint64 lockedUntil);
    error HolderCapReached(uint256 cap);
}
