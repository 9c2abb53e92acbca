// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title InvestorRegistry
/// @notice KYC register of the permissioned securities ledger: which addresses belong to which investor,
///         their ISO 3166-1 numeric country, investor class and KYC expiry. Written only by agents.
contract InvestorRegistry is AccessControl {
    /// @notice Role allowed to register, update and revoke investors (the registry operator).
    bytes32 public constant AGENT_ROLE = keccak256("AGENT_ROLE");

    struct Investor {
        bytes32 investorId;
        uint16 country;
        uint8 investorClass;
        uint64 kycExpiry;
        bool revoked;
    }

    mapping(address wallet => Investor) private _investors;

    /// @notice An address was registered or updated for an investor.
    event InvestorRegistered(
        address indexed wallet, bytes32 indexed investorId, uint16 country, uint8 investorClass, uint64 kycExpiry
    );
    /// @notice An investor address lost its KYC status (revocation by an agent).
    event InvestorRevoked(address indexed wallet, bytes32 indexed investorId);

    error InvestorUnknown(address wallet);
    error InvestorZeroAddress();
    error InvestorIdZero();
    error InvestorCountryInvalid(uint16 country);
    error InvestorKycExpired(uint64 kycExpiry);

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
        emit InvestorRegistered(wallet, investorId, country, class_, expiry);
    }

    /// @notice Revokes the KYC status of `wallet`; it stays known but is no longer verified.
    function revokeInvestor(address wallet) external onlyRole(AGENT_ROLE) {
        Investor storage investor = _investors[wallet];
        if (investor.investorId == bytes32(0)) revert InvestorUnknown(wallet);
        investor.revoked = true;
        emit InvestorRevoked(wallet, investor.investorId);
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
}
