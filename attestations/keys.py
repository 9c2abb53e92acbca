"""Attestor keys: separate signer and verifier types over 32-byte digests (never arbitrary messages).

ed25519 (PyNaCl) signs the 32 digest bytes for anyone to verify off chain; secp256k1 (coincurve) signs
the digest itself, without prefix, for the contracts' ``ecrecover``.
"""

from __future__ import annotations

import functools

import nacl.exceptions
import nacl.signing
from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address

from attestations.errors import BadSignatureError, MalformedError

TREE_HEAD_SIGNATURE_BYTES = 8 + 8 + 1 + 32 + 2


def _digest32(digest: bytes) -> bytes:
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise MalformedError("a digest is exactly 32 bytes")
    return digest


def parse_hex(text: str, length: int, what: str) -> bytes:
    """``0x``-hex of exactly ``length`` bytes, or `MalformedError` naming ``what``."""
    if not isinstance(text, str) or not text.startswith("0x"):
        raise MalformedError(f"{what}: expected 0x-hex")
    try:
        raw = bytes.fromhex(text[2:])
    except ValueError:
        raise MalformedError(f"{what}: not hex") from None
    if len(raw) != length:
        raise MalformedError(f"{what}: expected {length} bytes, got {len(raw)}")
    return raw


class Ed25519Verifier:
    """An ed25519 public key; `verify` returns None or raises `BadSignatureError`."""

    def __init__(self, public_key: bytes) -> None:
        if not isinstance(public_key, bytes) or len(public_key) != 32:
            raise MalformedError("an ed25519 public key is 32 bytes")
        try:
            self._key = nacl.signing.VerifyKey(public_key)
        except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
            raise MalformedError(f"invalid ed25519 public key: {exc}") from None
        self.public_key = public_key

    @classmethod
    def from_hex(cls, text: str) -> Ed25519Verifier:
        return cls(parse_hex(text, 32, "ed25519 public key"))

    def verify(self, digest: bytes, signature: bytes) -> None:
        if len(signature) != 64:
            raise BadSignatureError("an ed25519 signature is 64 bytes")
        try:
            self._key.verify(_digest32(digest), signature)
        except nacl.exceptions.BadSignatureError:
            raise BadSignatureError("ed25519 signature does not verify") from None

    def verify_tree_head(self, signed: bytes, signature: bytes) -> None:
        """Verifies a transparency-log tree head signature over its RFC 9162 ``TreeHeadSignature`` bytes."""
        if len(signature) != 64:
            raise BadSignatureError("an ed25519 signature is 64 bytes")
        try:
            self._key.verify(signed, signature)
        except nacl.exceptions.BadSignatureError:
            raise BadSignatureError("tree head signature does not verify") from None

    def hex(self) -> str:
        return "0x" + self.public_key.hex()


class Ed25519Signer:
    """An ed25519 signing key (32-byte seed) signing 32-byte digests."""

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise MalformedError("an ed25519 seed is 32 bytes")
        self._key = nacl.signing.SigningKey(seed)
        self.seed = seed
        self.verifier = Ed25519Verifier(bytes(self._key.verify_key))

    @classmethod
    def from_hex(cls, text: str) -> Ed25519Signer:
        return cls(parse_hex(text.strip(), 32, "ed25519 seed"))

    def sign(self, digest: bytes) -> bytes:
        return self._key.sign(_digest32(digest)).signature

    def sign_tree_head(self, signed: bytes) -> bytes:
        """Signs an RFC 9162 ``TreeHeadSignature`` (51 bytes; never a digest, so the two cannot collide)."""
        if len(signed) != TREE_HEAD_SIGNATURE_BYTES:
            raise MalformedError(f"a TreeHeadSignature is {TREE_HEAD_SIGNATURE_BYTES} bytes")
        return self._key.sign(signed).signature

    def __repr__(self) -> str:
        return f"Ed25519Signer({self.verifier.hex()})"


@functools.lru_cache(maxsize=4096)
def recover_address(digest: bytes, signature: bytes) -> str:
    """The checksummed address whose key made the 65-byte (r, s, v) ``signature`` over ``digest``
    (cached: a relayer recovers each signature when it verifies it and again when it orders it)."""
    if len(signature) != 65 or signature[64] not in (27, 28):
        raise BadSignatureError("a secp256k1 signature is 65 bytes with v = 27 or 28")
    if int.from_bytes(signature[32:64], "big") > SECP256K1_HALF_ORDER:
        raise BadSignatureError("secp256k1 signature has a high s value (malleable)")
    try:
        public = PublicKey.from_signature_and_message(
            signature[:64] + bytes([signature[64] - 27]), _digest32(digest), hasher=None
        )
    except ValueError:
        raise BadSignatureError("secp256k1 signature does not recover a key") from None
    return to_checksum_address(keccak(public.format(compressed=False)[1:])[-20:])


SECP256K1_HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


class Secp256k1Signer:
    """Signs EIP-712 digests for on-chain ``ecrecover``: 65 bytes r || s || v (v = 27 or 28, low s)."""

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) != 32:
            raise MalformedError("a secp256k1 private key is 32 bytes")
        try:
            self._key = PrivateKey(secret)
        except ValueError as exc:
            raise MalformedError(f"invalid secp256k1 private key: {exc}") from None
        self.secret = secret
        public = self._key.public_key.format(compressed=False)[1:]
        self.address: str = to_checksum_address(keccak(public)[-20:])

    @classmethod
    def from_hex(cls, text: str) -> Secp256k1Signer:
        return cls(parse_hex(text.strip(), 32, "secp256k1 private key"))

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
