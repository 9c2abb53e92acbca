// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title DirectionalPausable
/// @notice Separate inbound (mint/release) and outbound (bridge out/back) pauses, held by PAUSER_ROLE.
abstract contract DirectionalPausable is AccessControl {
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    bool private _inboundPaused;
    bool private _outboundPaused;

    event InboundPauseSet(bool paused, address indexed by);
    event OutboundPauseSet(bool paused, address indexed by);

    error InboundPaused();
    error OutboundPaused();

    modifier whenInboundOpen() {
        if (_inboundPaused) revert InboundPaused();
        _;
    }

    modifier whenOutboundOpen() {
        if (_outboundPaused) revert OutboundPaused();
        _;
    }

    function inboundPaused() external view returns (bool) {
        return _inboundPaused;
    }

    function outboundPaused() external view returns (bool) {
        return _outboundPaused;
    }

    /// @notice Stops (true) or resumes (false) inbound deliveries.
    function setInboundPaused(bool paused_) external onlyRole(PAUSER_ROLE) {
        _inboundPaused = paused_;
        emit InboundPauseSet(paused_, msg.sender);
    }

    /// @notice Stops (true) or resumes (false) outbound requests.
    function setOutboundPaused(bool paused_) external onlyRole(PAUSER_ROLE) {
        _outboundPaused = paused_;
        emit OutboundPauseSet(paused_, msg.sender);
    }
}
