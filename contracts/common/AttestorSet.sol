// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Messages} from "./Messages.sol";

/// @title AttestorSet
/// @notice The attestor committee of one chain, in epochs. A digest is attested when at least
///         `threshold` members of the current epoch signed it (secp256k1, no prefix), the signatures
///         ordered by strictly increasing signer address so no signer counts twice (as in CCTP).
///         The committee rotates itself: a new epoch needs a threshold of the current one.
contract AttestorSet is EIP712 {
    uint32 private _epoch;
    mapping(uint32 epoch => address[]) private _members;
    mapping(uint32 epoch => mapping(address => bool)) private _isMember;
    mapping(uint32 epoch => uint8) private _threshold;

    /// @notice A new committee took over (`epoch` is its number, starting at 1).
    event AttestorsRotated(uint32 indexed epoch, address[] attestors, uint8 threshold);

    /// @notice Fewer valid signatures than the threshold. selector: AttestorThresholdNotMet(uint256,uint256)
    error AttestorThresholdNotMet(uint256 signatures, uint256 threshold);
    /// @notice A signature recovers to an address outside the current epoch (wrong key, digest or domain).
    error AttestorUnknown(address signer);
    /// @notice The same attestor signed twice.
    error AttestorDuplicate(address signer);
    /// @notice Signatures are not in strictly increasing signer order.
    error AttestorsUnordered(address previous, address next);
    /// @notice Signature `index` is malformed (length, s-value or v).
    error AttestorSignatureInvalid(uint256 index);
    /// @notice A committee must be non-empty, strictly increasing, non-zero, with 1 <= threshold <= size.
    error AttestorSetInvalid();

    constructor(address[] memory attestors_, uint8 threshold_) EIP712("Dari", "1") {
        _install(1, attestors_, threshold_);
    }

    /// @notice Current epoch number.
    function epoch() external view returns (uint32) {
        return _epoch;
    }

    /// @notice Members of the current epoch, in increasing address order.
    function attestors() external view returns (address[] memory) {
        return _members[_epoch];
    }

    /// @notice Signatures needed in the current epoch.
    function threshold() external view returns (uint8) {
        return _threshold[_epoch];
    }

    /// @notice Whether `account` belongs to the current epoch.
    function isAttestor(address account) external view returns (bool) {
        return _isMember[_epoch][account];
    }

    /// @notice Reverts unless `signatures` attest `digest` under the current epoch.
    /// @param digest Full EIP-712 digest computed by the verifying contract (its own domain).
    /// @param signatures 65-byte (r, s, v) signatures, ordered by strictly increasing signer address.
    function verify(bytes32 digest, bytes[] calldata signatures) public view {
        uint32 current = _epoch;
        address previous = address(0);
        for (uint256 i = 0; i < signatures.length; ++i) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signatures[i]);
            if (err != ECDSA.RecoverError.NoError) revert AttestorSignatureInvalid(i);
            if (!_isMember[current][signer]) revert AttestorUnknown(signer);
            if (signer == previous) revert AttestorDuplicate(signer);
            if (signer < previous) revert AttestorsUnordered(previous, signer);
            previous = signer;
        }
        if (signatures.length < _threshold[current]) {
            revert AttestorThresholdNotMet(signatures.length, _threshold[current]);
        }
    }

    /// @notice Installs the next epoch; `signatures` from the current epoch over
    ///         AttestorRotation(epoch + 1, attestors, threshold).
    function rotate(address[] calldata attestors_, uint8 threshold_, bytes[] calldata signatures) external {
        uint32 next = _epoch + 1;
        verify(_hashTypedDataV4(Messages.hashRotation(next, attestors_, threshold_)), signatures);
        _install(next, attestors_, threshold_);
    }

    /// @notice The EIP-712 digest a rotation to `attestors_`/`threshold_` must be signed over.
    function rotationDigest(address[] calldata attestors_, uint8 threshold_) external view returns (bytes32) {
        return _hashTypedDataV4(Messages.hashRotation(_epoch + 1, attestors_, threshold_));
    }

    function _install(uint32 next, address[] memory attestors_, uint8 threshold_) private {
        if (attestors_.length == 0 || threshold_ == 0 || threshold_ > attestors_.length) revert AttestorSetInvalid();
        address previous = address(0);
        for (uint256 i = 0; i < attestors_.length; ++i) {
            if (attestors_[i] <= previous) revert AttestorSetInvalid();
            previous = attestors_[i];
            _isMember[next][attestors_[i]] = true;
        }
        _members[next] = attestors_;
        _threshold[next] = threshold_;
        _epoch = next;
        emit AttestorsRotated(next, attestors_, threshold_);
    }
}
