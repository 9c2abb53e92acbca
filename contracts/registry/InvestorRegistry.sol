// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title InvestorRegistry
/// @notice KYC register of the permissioned securities ledger: which addresses belong to which investor,
///         their ISO 3166-1 numeric country, investor class and KYC expiry, and the anchor of each investor's
///         current KYC claim (so an older signed claim cannot be replayed after a downgrade). Written only by
///         agents.
contract InvestorRegistry is AccessControl {
    /// @notice Role allowed to register, update and revoke investors and anchor their KYC claims (the registry
    ///         operator).
    bytes32 public constant AGENT_ROLE = keccak256("AGENT_ROLE");

    struct Investor {
        bytes32 investorId;
        uint16 country;
        uint8 investorClass;
        uint64 kycExpiry;
        bool revoked;
    }

    /// @dev The current KYC claim of an address: EIP-712 digest of the provider's `KycClaim` and its sequence.
    struct ClaimAnchor {
        bytes32 digest;
        uint64 sequence;
    }

    mapping(address wallet => Investor) private _investors;
    /// @dev By investor id (a claim is about the investor, whichever of its addresses), kept apart from
    ///      `_investors` so that a re-registration never resets it.
    mapping(bytes32 investorId => ClaimAnchor) private _claims;
    mapping(bytes32 investorId => bool) private _known;

    /// @notice An address was registered or updated for an investor.
    event InvestorRegistered(
        address indexed wallet, bytes32 indexed investorId, uint16 country, uint8 investorClass, uint64 kycExpiry
    );
    /// @notice An investor address lost its KYC status (revocation by an agent).
    event InvestorRevoked(address indexed wallet, bytes32 indexed investorId);
    /// @notice The current KYC claim of an investor was anchored (its sequence only moves forward).
    event ClaimAnchored(bytes32 indexed investorId, bytes32 indexed digest, uint64 sequence);

    error InvestorUnknown(address wallet);
    error InvestorIdUnknown(bytes32 investorId);
    error InvestorZeroAddress();
    error InvestorIdZero();
    error InvestorCountryInvalid(uint16 country);
    error InvestorKycExpired(uint64 kycExpiry);
    error ClaimDigestZero();
    error ClaimSequenceNotIncreasing(uint64 current, uint64 given);

    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(AGENT_ROLE, admin);
    }

    /// @notice Registers (or re-registers) `wallet` for `investorId`; clears an earlier revocation.
    /// @param country ISO 3166-1 numeric code, 1..999.
    /// @param class_ Investor class code (see docs).
    /// @param expiry Unix time after which the investor is no longer verified; must be in the future.
    function registerInvestor(address wallet, bytes32 investorId, uint16 country, uint8 class_, uint64 expiry)
        external
        onlyRole(AGENT_ROLE)
    {
        if (wallet == address(0)) revert InvestorZeroAddress();
        if (investorId == bytes32(0)) revert InvestorIdZero();
        if (country == 0 || country > 999) revert InvestorCountryInvalid(country);
        if (expiry <= block.timestamp) revert InvestorKycExpired(expiry);
        _investors[wallet] = Investor(investorId, country, class_, expiry, false);
        _known[investorId] = true;
        emit InvestorRegistered(wallet, investorId, country, class_, expiry);
    }

    /// @notice Revokes the KYC status of `wallet`; it stays known but is no longer verified.
    function revokeInvestor(address wallet) external onlyRole(AGENT_ROLE) {
        Investor storage investor = _investors[wallet];
        if (investor.investorId == bytes32(0)) revert InvestorUnknown(wallet);
        investor.revoked = true;
        emit InvestorRevoked(wallet, investor.investorId);
    }

    /// @notice Anchors the current KYC claim of `investorId`, an investor registered at some address (possibly
    ///         revoked since).
    /// @param digest EIP-712 digest of the `KycClaim` statement signed off chain by a KYC provider; not zero.
    /// @param sequence The claim's sequence number; must be greater than the anchored one.
    function anchorClaim(bytes32 investorId, bytes32 digest, uint64 sequence) external onlyRole(AGENT_ROLE) {
        if (!_known[investorId]) revert InvestorIdUnknown(investorId);
        if (digest == bytes32(0)) revert ClaimDigestZero();
        ClaimAnchor storage claim = _claims[investorId];
        if (sequence <= claim.sequence) revert ClaimSequenceNotIncreasing(claim.sequence, sequence);
        claim.digest = digest;
        claim.sequence = sequence;
        emit ClaimAnchored(investorId, digest, sequence);
    }

    /// @notice True while `wallet` is registered, not revoked and its KYC has not expired.
    function isVerified(address wallet) public view returns (bool) {
        Investor storage investor = _investors[wallet];
        return investor.investorId != bytes32(0) && !investor.revoked && block.timestamp < investor.kycExpiry;
    }

    /// @notice ISO 3166-1 numeric country of `wallet` (0 when unknown).
    function investorCountry(address wallet) external view returns (uint16) {
        return _investors[wallet].country;
    }

    /// @notice Investor id (a hash, never personal data) of `wallet` (zero when unknown).
    function investorIdOf(address wallet) external view returns (bytes32) {
        return _investors[wallet].investorId;
    }

    /// @notice Investor class code of `wallet`.
    function investorClass(address wallet) external view returns (uint8) {
        return _investors[wallet].investorClass;
    }

    /// @notice KYC expiry (Unix seconds) of `wallet`.
    function kycExpiry(address wallet) external view returns (uint64) {
        return _investors[wallet].kycExpiry;
    }

    /// @notice The anchored KYC claim of `investorId`: its digest and sequence (zero, zero when none).
    function claimOf(bytes32 investorId) external view returns (bytes32 digest, uint64 sequence) {
        ClaimAnchor storage claim = _claims[investorId];
        return (claim.digest, claim.sequence);
    }
}
