// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {AttestorSet} from "./AttestorSet.sol";

/// @title Attested
/// @notice Mixin for contracts that act only on statements attested by the chain's AttestorSet:
///         the statement is hashed under this contract's own EIP-712 domain (so it cannot be replayed
///         on another contract or chain) and checked against the committee's current epoch.
abstract contract Attested is EIP712 {
    AttestorSet private immutable _attestors;

    constructor(AttestorSet committee) EIP712("Dari", "1") {
        _attestors = committee;
    }

    /// @notice The committee whose signatures this contract accepts.
    function attestorSet() external view returns (AttestorSet) {
        return _attestors;
    }

    /// @notice EIP-712 domain separator of this contract (name "Dari", version "1").
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev Reverts unless `signatures` attest `structHash` under this contract's domain; returns the digest.
    function _requireAttested(bytes32 structHash, bytes[] calldata signatures) internal view returns (bytes32 digest) {
        digest = _hashTypedDataV4(structHash);
        _attestors.verify(digest, signatures);
    }
}
