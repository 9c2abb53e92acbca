// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title Freezable
/// @notice ERC-3643 agent freezes: a whole address, or part of its balance. Held by AGENT_ROLE.
abstract contract Freezable is AccessControl {
    bytes32 public constant AGENT_ROLE = keccak256("AGENT_ROLE");

    mapping(address => bool) private _frozen;
    mapping(address => uint256) private _frozenTokens;

    event AddressFrozen(address indexed wallet, bool indexed frozen, address indexed agent);
    event TokensFrozen(address indexed wallet, uint256 amount);
    event TokensUnfrozen(address indexed wallet, uint256 amount);

    error FreezeExceedsFrozen(address wallet, uint256 requested, uint256 frozen);

    /// @notice Whether every transfer from or to `wallet` is blocked.
    function isFrozen(address wallet) public view returns (bool) {
        return _frozen[wallet];
    }

    /// @notice Units of `wallet`'s balance that cannot move.
    function getFrozenTokens(address wallet) public view returns (uint256) {
        return _frozenTokens[wallet];
    }

    /// @notice Freezes or unfreezes `wallet` entirely.
    function setAddressFrozen(address wallet, bool frozen) external onlyRole(AGENT_ROLE) {
        _frozen[wallet] = frozen;
        emit AddressFrozen(wallet, frozen, msg.sender);
    }

    /// @notice Freezes `amount` more units of `wallet`'s balance.
    function freezePartialTokens(address wallet, uint256 amount) external onlyRole(AGENT_ROLE) {
        _frozenTokens[wallet] += amount;
        emit TokensFrozen(wallet, amount);
    }

    /// @notice Releases `amount` frozen units of `wallet`.
    function unfreezePartialTokens(address wallet, uint256 amount) external onlyRole(AGENT_ROLE) {
        uint256 frozen = _frozenTokens[wallet];
        if (amount > frozen) revert FreezeExceedsFrozen(wallet, amount, frozen);
        _unfreeze(wallet, amount);
    }

    /// @dev Releases `amount` (<= frozen) frozen units of `wallet`.
    function _unfreeze(address wallet, uint256 amount) internal {
        _frozenTokens[wallet] -= amount;
        emit TokensUnfrozen(wallet, amount);
    }
}
