// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AttestorSet} from "../common/AttestorSet.sol";
import {Attested} from "../common/Attested.sol";
import {DirectionalPausable} from "../common/DirectionalPausable.sol";
import {Messages} from "../common/Messages.sol";
import {SecurityToken} from "./SecurityToken.sol";

/// @title BridgeEscrow
/// @notice Locks registry units while their wrapped representation lives on a public chain. Units leave
///         escrow only by an attested release (after a burn on a public chain) or an attested refund (of a
///         rejected bridge-out), each exactly once (INV-002, INV-003).
contract BridgeEscrow is Attested, DirectionalPausable {
    using SafeERC20 for IERC20;
    using Messages for Messages.ReleaseAuthorization;

    enum RequestStatus {
        None,
        Pending,
        Refunded
    }

    /// @dev token and status share one storage slot.
    struct Request {
        address token;
        RequestStatus status;
        address sender;
        uint256 amount;
    }

    uint64 private _nextNonce = 1;
    mapping(uint64 nonce => Request) private _requests;
    mapping(address token => uint256) private _locked;
    mapping(bytes32 securityId => address token) private _tokens;
    mapping(address token => bool) private _listed;
    mapping(uint256 chainId => bool) private _destinations;
    mapping(uint256 sourceChainId => mapping(uint64 sourceNonce => bool)) private _released;

    event BridgeOutRequested(
        uint64 indexed nonce,
        address indexed token,
        address indexed sender,
        uint256 amount,
        uint256 destChainId,
        address recipient
    );
    event Released(
        uint256 indexed sourceChainId, uint64 indexed sourceNonce, address indexed token, address recipient, uint256 amount
    );
    event Refunded(uint64 indexed nonce, uint16 reason);
    event SecurityListed(bytes32 indexed securityId, address indexed token);
    event DestinationSet(uint256 indexed chainId, bool enabled);

    error EscrowTokenUnlisted(address token);
    error EscrowSecurityUnlisted(bytes32 securityId);
    error EscrowDestinationUnsupported(uint256 chainId);
    error EscrowAmountZero();
    error EscrowRecipientZero();
    error EscrowRequestNotPending(uint64 nonce);
    error EscrowAlreadyReleased(uint256 sourceChainId, uint64 sourceNonce);
    error EscrowInsufficientLocked(address token, uint256 requested, uint256 locked);

    constructor(AttestorSet committee, address admin) Attested(committee) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
    }

    /// @notice Lists `token` (a SecurityToken) for bridging under its security id.
    function listSecurity(SecurityToken token) external onlyRole(DEFAULT_ADMIN_ROLE) {
        bytes32 id = token.securityId();
        _listed[_tokens[id]] = false;
        _tokens[id] = address(token);
        _listed[address(token)] = true;
        emit SecurityListed(id, address(token));
    }

    /// @notice Enables or disables `chainId` as a destination.
    function setDestination(uint256 chainId, bool enabled) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _destinations[chainId] = enabled;
        emit DestinationSet(chainId, enabled);
    }

    /// @notice Locks `amount` units of `token` (approved first) for `recipient` on `destChainId`.
    /// @return nonce The request's number, unique on this escrow.
    function bridgeOut(address token, uint256 amount, uint256 destChainId, address recipient)
        external
        whenOutboundOpen
        returns (uint64 nonce)
    {
        if (!_listed[token]) revert EscrowTokenUnlisted(token);
        if (!_destinations[destChainId]) revert EscrowDestinationUnsupported(destChainId);
        if (amount == 0) revert EscrowAmountZero();
        if (recipient == address(0)) revert EscrowRecipientZero();
        nonce = _nextNonce++;
        _requests[nonce] = Request(token, RequestStatus.Pending, msg.sender, amount);
        _locked[token] += amount;
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        emit BridgeOutRequested(nonce, token, msg.sender, amount, destChainId, recipient);
    }

    /// @notice Releases units to `m.recipient` after `m.amount` wrapped units were burned on `m.sourceChainId`.
    function release(Messages.ReleaseAuthorization calldata m, bytes[] calldata signatures) external whenInboundOpen {
        if (_released[m.sourceChainId][m.sourceNonce]) revert EscrowAlreadyReleased(m.sourceChainId, m.sourceNonce);
        address token = _tokens[m.securityId];
        if (token == address(0)) revert EscrowSecurityUnlisted(m.securityId);
        _requireAttested(m.hash(), signatures);
        uint256 locked = _locked[token];
        if (m.amount > locked) revert EscrowInsufficientLocked(token, m.amount, locked);
        _released[m.sourceChainId][m.sourceNonce] = true;
        _locked[token] = locked - m.amount;
        IERC20(token).safeTransfer(m.recipient, m.amount);
        emit Released(m.sourceChainId, m.sourceNonce, token, m.recipient, m.amount);
    }

    /// @notice Returns the units of bridge-out `nonce` to its sender; `signatures` attest
    ///         RefundAuthorization(nonce, token, sender, amount, reason) built from the stored request.
    function refund(uint64 nonce, uint16 reason, bytes[] calldata signatures) external {
        Request storage pending = _requests[nonce];
        if (pending.status != RequestStatus.Pending) revert EscrowRequestNotPending(nonce);
        _requireAttested(
            Messages.hashRefund(nonce, pending.token, pending.sender, pending.amount, reason), signatures
        );
        pending.status = RequestStatus.Refunded;
        _locked[pending.token] -= pending.amount;
        IERC20(pending.token).safeTransfer(pending.sender, pending.amount);
        emit Refunded(nonce, reason);
    }

    /// @notice Units of `token` held in escrow for wrapped representations and pending requests.
    function lockedBalance(address token) external view returns (uint256) {
        return _locked[token];
    }

    /// @notice The bridge-out request `nonce`.
    function request(uint64 nonce) external view returns (Request memory) {
        return _requests[nonce];
    }

    /// @notice Whether the burn (`sourceChainId`, `sourceNonce`) was released.
    function isReleased(uint256 sourceChainId, uint64 sourceNonce) external view returns (bool) {
        return _released[sourceChainId][sourceNonce];
    }

    /// @notice The registry token of `securityId` (zero when unlisted).
    function tokenOf(bytes32 securityId) external view returns (address) {
        return _tokens[securityId];
    }

    /// @notice EIP-712 digest of `m` under this escrow's domain.
    function releaseDigest(Messages.ReleaseAuthorization calldata m) external view returns (bytes32) {
        return _hashTypedDataV4(m.hash());
    }

    /// @notice EIP-712 digest of the refund of request `nonce` with `reason` under this escrow's domain.
    function refundDigest(uint64 nonce, uint16 reason) external view returns (bytes32) {
        Request storage pending = _requests[nonce];
        return _hashTypedDataV4(Messages.hashRefund(nonce, pending.token, pending.sender, pending.amount, reason));
    }

    /// @notice Whether `chainId` is an enabled destination.
    function isDestination(uint256 chainId) external view returns (bool) {
        return _destinations[chainId];
    }
}
