"""Micro-benchmarks printed by `dari bench` / `make bench` (SPEC section 10)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import nacl.signing

from attestations.eip712 import Domain
from attestations.keys import Ed25519Signer
from attestations.kinds import TransferAuthorization
from attestations.signing import AttestorKey, attest
from attestations.trust import TrustList
from attestations.verify import verify


def _rate(operation: Callable[[], object], iterations: int, rounds: int = 3) -> float:
    """Best of ``rounds`` timings of ``iterations`` calls, in calls per second."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(iterations):
            operation()
        best = min(best, time.perf_counter() - started)
    return iterations / best


def attest_rates(iterations: int = 20_000) -> dict[str, float]:
    """ed25519 sign/verify of a 32-byte digest through `attestations` and through raw PyNaCl, in the
    same process, plus full 2-of-3 attestation verification (both curves) per second."""
    digest = hashlib.sha256(b"dari-bench").digest()
    seed = hashlib.sha256(b"dari-bench/key").digest()
    ours = Ed25519Signer(seed)
    raw = nacl.signing.SigningKey(seed)
    raw_verify_key = raw.verify_key
    signature = ours.sign(digest)
    keys = [
        AttestorKey.from_json(
            {"id": f"att-{i}", "ed25519": "0x" + hashlib.sha256(f"e{i}".encode()).hexdigest(),
             "secp256k1": "0x" + hashlib.sha256(f"s{i}".encode()).hexdigest()}
        )
        for i in range(3)
    ]  # fmt: skip
    trust = TrustList.parse({"epoch": 1, "threshold": 2, "attestors": [k.public() for k in keys]})
    statement = TransferAuthorization(820001, 1, digest, keys[0].secp256k1.address, keys[1].secp256k1.address, 1, 0)
    attestation = attest(statement, Domain(31337, "0x" + "11" * 20), keys[:2])
    return {
        "sign_per_s": round(_rate(lambda: ours.sign(digest), iterations)),
        "verify_per_s": round(_rate(lambda: ours.verifier.verify(digest, signature), iterations)),
        "raw_sign_per_s": round(_rate(lambda: raw.sign(digest), iterations)),
        "raw_verify_per_s": round(_rate(lambda: raw_verify_key.verify(digest, signature), iterations)),
        "attestation_verify_per_s": round(_rate(lambda: verify(attestation, trust), iterations // 10)),
    }
