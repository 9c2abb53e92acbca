// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {AttestorSet} from "../common/AttestorSet.sol";
import {Attested} from "../common/Attested.sol";
import {IIdentityRegistry} from "../common/IIdentityRegistry.sol";
import {Messages} from "../common/Messages.sol";

/// @title HolderRegistry
/// @notice Who may hold wrapped securities on this public chain. Entries are written and revoked only
///         by attested statements (HolderEligibility / HolderRevocation); each entry keeps its expiry and
///         the digest of the attestation it came from. Statements apply in order: each must be newer than
///         the last one applied to the same wallet, so an old statement cannot be replayed (INV-006).
contract HolderRegistry is Attested, IIdentityRegistry {
    using Messages for Messages.HolderEligibility;
    using Messages for Messages.HolderRevocation;

    /// @notice How far a statement's time may run ahead of the chain's clock.
    uint64 public constant MAX_CLOCK_SKEW = 300;

    struct Holder {
        bytes32 holderId;
        uint16 country;
        uint8 investorClass;
        bool revoked;
        uint64 validUntil;
        uint64 updatedAt;
        bytes32 scope;
        bytes32 attestation;
    }

    mapping(address wallet => Holder) private _holders;

    event HolderRegistered(
        address indexed wallet,
        bytes32 indexed holderId,
        uint16 country,
        uint8 investorClass,
        bytes32 scope,
        uint64 validUntil,
        bytes32 attestation
    );
    event HolderRevoked(address indexed wallet, uint16 reason, bytes32 attestation);

    error HolderWrongChain(uint256 chainId);
    error HolderEligibilityExpired(uint64 validUntil);
    error HolderStatementFromFuture(uint64 issuedAt);
    error HolderStatementStale(uint64 issuedAt, uint64 lastApplied);
    error HolderUnknown(address wallet);
    error HolderIdZero();

    constructor(AttestorSet committee) Attested(committee) {}

    /// @notice Writes (or renews) the entry of `m.wallet` from an attested HolderEligibility.
    function registerHolder(Messages.HolderEligibility calldata m, bytes[] calldata signatures) external {
        if (m.chainId != block.chainid) revert HolderWrongChain(m.chainId);
        if (m.holderId == bytes32(0)) revert HolderIdZero();
        if (m.validUntil <= block.timestamp) revert HolderEligibilityExpired(m.validUntil);
        _requireInOrder(m.wallet, m.validFrom);
        bytes32 digest = _requireAttested(m.hash(), signatures);
        _holders[m.wallet] =
            Holder(m.holderId, m.country, m.investorClass, false, m.validUntil, m.validFrom, m.scope, digest);
        emit HolderRegistered(m.wallet, m.holderId, m.country, m.investorClass, m.scope, m.validUntil, digest);
    }

    /// @notice Revokes the entry of `m.wallet` from an attested HolderRevocation.
    function revokeHolder(Messages.HolderRevocation calldata m, bytes[] calldata signatures) external {
        if (m.chainId != block.chainid) revert HolderWrongChain(m.chainId);
        if (_holders[m.wallet].holderId == bytes32(0)) revert HolderUnknown(m.wallet);
        _requireInOrder(m.wallet, m.issuedAt);
        bytes32 digest = _requireAttested(m.hash(), signatures);
        Holder storage entry = _holders[m.wallet];
        entry.revoked = true;
        entry.updatedAt = m.issuedAt;
        entry.attestation = digest;
        emit HolderRevoked(m.wallet, m.reason, digest);
    }

    /// @notice True while `wallet` has an unrevoked, unexpired entry.
    function isVerified(address wallet) public view returns (bool) {
        Holder storage entry = _holders[wallet];
        return entry.holderId != bytes32(0) && !entry.revoked && block.timestamp < entry.validUntil;
    }

    /// @notice True when `wallet` is verified and its eligibility covers `securityId` (scope 0 covers all).
    function isEligible(address wallet, bytes32 securityId) external view returns (bool) {
        bytes32 scope = _holders[wallet].scope;
        return isVerified(wallet) && (scope == bytes32(0) || scope == securityId);
    }

    /// @notice ISO 3166-1 numeric country of `wallet`'s holder (0 when unknown).
    function investorCountry(address wallet) external view returns (uint16) {
        return _holders[wallet].country;
    }

    /// @notice The whole entry of `wallet`.
    function holder(address wallet) external view returns (Holder memory) {
        return _holders[wallet];
    }

    /// @notice EIP-712 digest of `m` under this registry's domain.
    function eligibilityDigest(Messages.HolderEligibility calldata m) external view returns (bytes32) {
        return _hashTypedDataV4(m.hash());
    }

    /// @notice EIP-712 digest of `m` under this registry's domain.
    function revocationDigest(Messages.HolderRevocation calldata m) external view returns (bytes32) {
        return _hashTypedDataV4(m.hash());
    }

    function _requireInOrder(address wallet, uint64 issuedAt) private view {
        if (issuedAt > block.timestamp + MAX_CLOCK_SKEW) revert HolderStatementFromFuture(issuedAt);
        uint64 last = _holders[wallet].updatedAt;
        if (_holders[wallet].holderId != bytes32(0) && issuedAt <= last) revert HolderStatementStale(issuedAt, last);
    }
}
