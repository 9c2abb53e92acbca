// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

/// @title IIdentityRegistry
/// @notice The ERC-3643 identity registry views both sides expose (InvestorRegistry, HolderRegistry).
interface IIdentityRegistry {
    function isVerified(address wallet) external view returns (bool);
    function investorCountry(address wallet) external view returns (uint16);
}
