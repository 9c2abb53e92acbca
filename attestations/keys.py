"""Attestor keys: typed signers over 32-byte digests (never over arbitrary messages)."""

from __future__ import annotations

from coincurve import PrivateKey
from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address

from attestations.errors import MalformedError


def _digest32(digest: bytes) -> bytes:
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise MalformedError("a digest is exactly 32 bytes")
    return digest


class Secp256k1Signer:
    """Signs EIP-712 digests for on-chain ``ecrecover``: 65 bytes r || s || v (v = 27 or 28, low s)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise MalformedError("a secp256k1 private key is 32 bytes")
        try:
            self._key = PrivateKey(secret)
        except ValueError as exc:
            raise MalformedError(f"invalid secp256k1 private key: {exc}") from None
        public = self._key.public_key.format(compressed=False)[1:]
        self.address: str = to_checksum_address(keccak(public)[-20:])

    @classmethod
    def from_hex(cls, text: str) -> Secp256k1Signer:
        try:
            return cls(bytes.fromhex(text.removeprefix("0x")))
        except ValueError:
            raise MalformedError("a secp256k1 private key is 64 hex digits") from None

    def sign(self, digest: bytes) -> bytes:
        signature = self._key.sign_recoverable(_digest32(digest), hasher=None)
        return signature[:64] + bytes([signature[64] + 27])

    def __repr__(self) -> str:
        return f"Secp256k1Signer({self.address})"


def sign_ordered(digest: bytes, signers: list[Secp256k1Signer]) -> list[bytes]:
    """Signatures of ``signers`` over ``digest`` in strictly increasing signer-address order, as the
    contracts require."""
    ordered = sorted(signers, key=lambda s: int(s.address, 16))
    return [s.sign(digest) for s in ordered]
