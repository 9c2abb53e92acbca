// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

/// @title Messages
/// @notice EIP-712 struct types of every attested statement a Dari contract acts on. The digest is
///         `keccak256(0x1901 || domainSeparator || structHash)` with domain {name: "Dari", version: "1",
///         chainId, verifyingContract}; `docs/attestations.md` has the field tables and golden vectors.
///
/// | type                  | verified by     | fields                                                                |
/// |-----------------------|-----------------|-----------------------------------------------------------------------|
/// | TransferAuthorization | BridgeGateway   | sourceChainId, sourceNonce, securityId, sender, recipient, amount, lockedUntil |
/// | ReleaseAuthorization  | BridgeEscrow    | sourceChainId, sourceNonce, securityId, holder, recipient, amount     |
/// | RefundAuthorization   | BridgeEscrow    | nonce, token, sender, amount, reason                                  |
/// | HolderEligibility     | HolderRegistry  | holderId, wallet, chainId, country, investorClass, scope, rulePackHash, validFrom, validUntil |
/// | HolderRevocation      | HolderRegistry  | wallet, chainId, reason, issuedAt                                     |
/// | AttestorRotation      | AttestorSet     | epoch, attestors, threshold                                           |
/// | WalletLink            | WalletLinks     | investor, chainId, wallet, deadline (signed by the public wallet)     |
library Messages {
    struct TransferAuthorization {
        uint256 sourceChainId;
        uint64 sourceNonce;
        bytes32 securityId;
        address sender;
        address recipient;
        uint256 amount;
        uint64 lockedUntil;
    }

    struct ReleaseAuthorization {
        uint256 sourceChainId;
        uint64 sourceNonce;
        bytes32 securityId;
        address holder;
        address recipient;
        uint256 amount;
    }

    struct HolderEligibility {
        bytes32 holderId;
        address wallet;
        uint256 chainId;
        uint16 country;
        uint8 investorClass;
        bytes32 scope;
        bytes32 rulePackHash;
        uint64 validFrom;
        uint64 validUntil;
    }

    struct HolderRevocation {
        address wallet;
        uint256 chainId;
        uint16 reason;
        uint64 issuedAt;
    }

    bytes32 internal constant TRANSFER_AUTHORIZATION_TYPEHASH = keccak256(
        "TransferAuthorization(uint256 sourceChainId,uint64 sourceNonce,bytes32 securityId,address sender,address recipient,uint256 amount,uint64 lockedUntil)"
    );
    bytes32 internal constant RELEASE_AUTHORIZATION_TYPEHASH = keccak256(
        "ReleaseAuthorization(uint256 sourceChainId,uint64 sourceNonce,bytes32 securityId,address holder,address recipient,uint256 amount)"
    );
    bytes32 internal constant REFUND_AUTHORIZATION_TYPEHASH =
        keccak256("RefundAuthorization(uint64 nonce,address token,address sender,uint256 amount,uint16 reason)");
    bytes32 internal constant HOLDER_ELIGIBILITY_TYPEHASH = keccak256(
        "HolderEligibility(bytes32 holderId,address wallet,uint256 chainId,uint16 country,uint8 investorClass,bytes32 scope,bytes32 rulePackHash,uint64 validFrom,uint64 validUntil)"
    );
    bytes32 internal constant HOLDER_REVOCATION_TYPEHASH =
        keccak256("HolderRevocation(address wallet,uint256 chainId,uint16 reason,uint64 issuedAt)");
    bytes32 internal constant ATTESTOR_ROTATION_TYPEHASH =
        keccak256("AttestorRotation(uint32 epoch,address[] attestors,uint8 threshold)");
    bytes32 internal constant WALLET_LINK_TYPEHASH =
        keccak256("WalletLink(address investor,uint256 chainId,address wallet,uint64 deadline)");

    function hash(TransferAuthorization calldata m) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                TRANSFER_AUTHORIZATION_TYPEHASH,
                m.sourceChainId,
                m.sourceNonce,
                m.securityId,
                m.sender,
                m.recipient,
                m.amount,
                m.lockedUntil
            )
        );
    }

    function hash(ReleaseAuthorization calldata m) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                RELEASE_AUTHORIZATION_TYPEHASH, m.sourceChainId, m.sourceNonce, m.securityId, m.holder, m.recipient, m.amount
            )
        );
    }

    function hashRefund(uint64 nonce, address token, address sender, uint256 amount, uint16 reason)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(REFUND_AUTHORIZATION_TYPEHASH, nonce, token, sender, amount, reason));
    }

    function hash(HolderEligibility calldata m) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                HOLDER_ELIGIBILITY_TYPEHASH,
                m.holderId,
                m.wallet,
                m.chainId,
                m.country,
                m.investorClass,
                m.scope,
                m.rulePackHash,
                m.validFrom,
                m.validUntil
            )
        );
    }

    function hash(HolderRevocation calldata m) internal pure returns (bytes32) {
        return keccak256(abi.encode(HOLDER_REVOCATION_TYPEHASH, m.wallet, m.chainId, m.reason, m.issuedAt));
    }

    function hashRotation(uint32 epoch, address[] calldata attestors, uint8 threshold) internal pure returns (bytes32) {
        return keccak256(abi.encode(ATTESTOR_ROTATION_TYPEHASH, epoch, keccak256(abi.encodePacked(attestors)), threshold));
    }

    function hashWalletLink(address investor, uint256 chainId, address wallet, uint64 deadline)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(WALLET_LINK_TYPEHASH, investor, chainId, wallet, deadline));
    }
}
