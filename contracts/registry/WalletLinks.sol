// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IIdentityRegistry} from "../common/IIdentityRegistry.sol";
import {Messages} from "../common/Messages.sol";

/// @title WalletLinks
/// @notice A verified registry investor names the wallet that represents them on a public chain. The
///         request carries the wallet's EIP-712 WalletLink signature (proof of control); the relayer
///         then decides eligibility and, if allowed, registers the wallet on that chain's HolderRegistry.
contract WalletLinks is EIP712 {
    IIdentityRegistry private immutable _investors;
    mapping(address investor => mapping(uint256 chainId => address wallet)) private _links;

    /// @notice `investor` asked to link `wallet` on `chainId`; the wallet proved control.
    event WalletLinkRequested(address indexed investor, uint256 indexed chainId, address indexed wallet);
    /// @notice `investor`'s link on `chainId` to `wallet` ended (unlinked, or replaced by a new link).
    event WalletUnlinked(address indexed investor, uint256 indexed chainId, address indexed wallet);

    error LinkInvestorUnverified(address investor);
    error LinkProofInvalid(address wallet);
    error LinkProofExpired(uint64 deadline);
    error LinkWalletZero();
    error LinkAbsent(address investor, uint256 chainId);

    constructor(IIdentityRegistry investors) EIP712("Dari", "1") {
        _investors = investors;
    }

    /// @notice Links `wallet` on `chainId` to the caller; `proof` is the wallet's signature over
    ///         WalletLink(caller, chainId, wallet, deadline) in this contract's domain.
    function requestLink(uint256 chainId, address wallet, uint64 deadline, bytes calldata proof) external {
        if (!_investors.isVerified(msg.sender)) revert LinkInvestorUnverified(msg.sender);
        if (wallet == address(0)) revert LinkWalletZero();
        if (deadline < block.timestamp) revert LinkProofExpired(deadline);
        bytes32 digest = _hashTypedDataV4(Messages.hashWalletLink(msg.sender, chainId, wallet, deadline));
        if (!SignatureChecker.isValidSignatureNow(wallet, digest, proof)) revert LinkProofInvalid(wallet);
        address previous = _links[msg.sender][chainId];
        if (previous != address(0) && previous != wallet) emit WalletUnlinked(msg.sender, chainId, previous);
        _links[msg.sender][chainId] = wallet;
        emit WalletLinkRequested(msg.sender, chainId, wallet);
    }

    /// @notice Removes the caller's link on `chainId`.
    function unlink(uint256 chainId) external {
        address wallet = _links[msg.sender][chainId];
        if (wallet == address(0)) revert LinkAbsent(msg.sender, chainId);
        delete _links[msg.sender][chainId];
        emit WalletUnlinked(msg.sender, chainId, wallet);
    }

    /// @notice The wallet `investor` linked on `chainId` (zero when none).
    function linkedWallet(address investor, uint256 chainId) external view returns (address) {
        return _links[investor][chainId];
    }

    /// @notice The digest a wallet signs to prove control (helper for wallets and tests).
    function linkDigest(address investor, uint256 chainId, address wallet, uint64 deadline)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(Messages.hashWalletLink(investor, chainId, wallet, deadline));
    }
}
