// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {AttestorSet} from "../common/AttestorSet.sol";
import {Attested} from "../common/Attested.sol";
import {DirectionalPausable} from "../common/DirectionalPausable.sol";
import {Messages} from "../common/Messages.sol";
import {RateLimiter} from "../common/RateLimiter.sol";
import {WrappedSecurity} from "./WrappedSecurity.sol";

/// @title BridgeGateway
/// @notice Mints wrapped securities against attested transfer authorizations (a threshold of attestor
///         signatures over the EIP-712 digest), at most once per (source chain, source nonce) (INV-002);
///         burns them on `bridgeBack` for release on the registry. Anyone may submit an authorization:
///         no single key, not even the relayer's, can mint. Rate-limited per security in and out.
contract BridgeGateway is Attested, DirectionalPausable {
    using Messages for Messages.TransferAuthorization;
    using RateLimiter for RateLimiter.Bucket;

    uint256 private immutable _registryChainId;
    uint64 private _nextNonce = 1;
    mapping(bytes32 securityId => WrappedSecurity) private _wrapped;
    mapping(address token => bytes32 securityId) private _securityOf;
    mapping(uint256 sourceChainId => mapping(uint64 sourceNonce => bool)) private _processed;
    mapping(bytes32 securityId => RateLimiter.Bucket) private _inbound;
    mapping(bytes32 securityId => RateLimiter.Bucket) private _outbound;

    event Minted(
        uint256 indexed sourceChainId, uint64 indexed sourceNonce, address indexed token, address recipient, uint256 amount
    );
    event BridgeBackRequested(
        uint64 indexed nonce, address indexed token, address indexed holder, uint256 amount, address registryRecipient
    );
    event SecurityRegistered(bytes32 indexed securityId, address indexed token);
    event RateLimitsSet(
        bytes32 indexed securityId, uint128 inCapacity, uint128 inPerSecond, uint128 outCapacity, uint128 outPerSecond
    );

    error GatewayAlreadyProcessed(uint256 sourceChainId, uint64 sourceNonce);
    error GatewaySourceUnknown(uint256 sourceChainId);
    error GatewaySecurityUnknown(bytes32 securityId);
    error GatewayTokenUnknown(address token);
    error GatewayAmountZero();
    error GatewayRecipientZero();
    error GatewayBatchMismatch(uint256 authorizations, uint256 signatureSets);

    constructor(AttestorSet committee, uint256 registryChainId_, address admin) Attested(committee) {
        _registryChainId = registryChainId_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
    }

    /// @notice The registry chain whose bridge-outs this gateway accepts.
    function registryChainId() external view returns (uint256) {
        return _registryChainId;
    }

    /// @notice Registers `token` (a WrappedSecurity that granted this gateway MINTER_ROLE).
    function registerSecurity(WrappedSecurity token) external onlyRole(DEFAULT_ADMIN_ROLE) {
        bytes32 id = token.securityId();
        _wrapped[id] = token;
        _securityOf[address(token)] = id;
        emit SecurityRegistered(id, address(token));
    }

    /// @notice Configures the token buckets of `securityId` (capacity 0: unlimited); both start full.
    function setRateLimits(
        bytes32 securityId,
        uint128 inCapacity,
        uint128 inPerSecond,
        uint128 outCapacity,
        uint128 outPerSecond
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _inbound[securityId].configure(inCapacity, inPerSecond);
        _outbound[securityId].configure(outCapacity, outPerSecond);
        emit RateLimitsSet(securityId, inCapacity, inPerSecond, outCapacity, outPerSecond);
    }

    /// @notice Mints `m.amount` of `m.securityId` to `m.recipient`; `signatures` from the attestor set,
    ///         strictly increasing by signer, over this gateway's EIP-712 digest of `m`.
    function mint(Messages.TransferAuthorization calldata m, bytes[] calldata signatures) external whenInboundOpen {
        _mint(m, signatures);
    }

    /// @notice `mint` for several authorizations in one transaction; all or nothing.
    function mintBatch(Messages.TransferAuthorization[] calldata ms, bytes[][] calldata signatures)
        external
        whenInboundOpen
    {
        if (ms.length != signatures.length) revert GatewayBatchMismatch(ms.length, signatures.length);
        for (uint256 i = 0; i < ms.length; ++i) {
            _mint(ms[i], signatures[i]);
        }
    }

    /// @notice Burns `amount` of the caller's `token` for release to `registryRecipient` on the registry.
    /// @return nonce The request's number, unique on this gateway.
    function bridgeBack(address token, uint256 amount, address registryRecipient)
        external
        whenOutboundOpen
        returns (uint64 nonce)
    {
        bytes32 id = _securityOf[token];
        if (id == bytes32(0)) revert GatewayTokenUnknown(token);
        if (amount == 0) revert GatewayAmountZero();
        if (registryRecipient == address(0)) revert GatewayRecipientZero();
        _outbound[id].consume(id, amount);
        nonce = _nextNonce++;
        WrappedSecurity(token).burn(msg.sender, amount);
        emit BridgeBackRequested(nonce, token, msg.sender, amount, registryRecipient);
    }

    /// @notice The wrapped token of `securityId` (zero when unregistered).
    function wrappedToken(bytes32 securityId) external view returns (address) {
        return address(_wrapped[securityId]);
    }

    /// @notice Whether the bridge-out (`sourceChainId`, `sourceNonce`) was minted.
    function isProcessed(uint256 sourceChainId, uint64 sourceNonce) external view returns (bool) {
        return _processed[sourceChainId][sourceNonce];
    }

    /// @notice Units of `securityId` that may be minted / bridged back right now.
    function available(bytes32 securityId) external view returns (uint256 inbound, uint256 outbound) {
        return (_inbound[securityId].current(), _outbound[securityId].current());
    }

    /// @notice EIP-712 digest of `m` under this gateway's domain.
    function transferDigest(Messages.TransferAuthorization calldata m) external view returns (bytes32) {
        return _hashTypedDataV4(m.hash());
    }

    function _mint(Messages.TransferAuthorization calldata m, bytes[] calldata signatures) private {
        if (m.sourceChainId != _registryChainId) revert GatewaySourceUnknown(m.sourceChainId);
        if (_processed[m.sourceChainId][m.sourceNonce]) revert GatewayAlreadyProcessed(m.sourceChainId, m.sourceNonce);
        WrappedSecurity token = _wrapped[m.securityId];
        if (address(token) == address(0)) revert GatewaySecurityUnknown(m.securityId);
        if (m.amount == 0) revert GatewayAmountZero();
        _requireAttested(m.hash(), signatures);
        _processed[m.sourceChainId][m.sourceNonce] = true;
        _inbound[m.securityId].consume(m.securityId, m.amount);
        token.mint(m.recipient, m.amount, m.lockedUntil);
        emit Minted(m.sourceChainId, m.sourceNonce, address(token), m.recipient, m.amount);
    }
}
