"""Golden attestation vectors: one file per kind under ``tests/vectors/attestations/``.

Deterministic (fixed test keys; ed25519 and RFC 6979 secp256k1 signatures are deterministic), so an
outside implementation can check its digests and signatures against them. Regenerate (only when the
format changes on purpose) with ``.venv/bin/python -m tests.vectors.attestation_vectors``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from attestations.eip712 import Domain, encode_type, hash_struct, type_hash
from attestations.keys import Ed25519Signer, Secp256k1Signer
from attestations.kinds import (
    HolderEligibility,
    HolderRevocation,
    KycClaim,
    OperatorDecision,
    RecognitionRecord,
    ReconciliationReport,
    RefundAuthorization,
    ReleaseAuthorization,
    Statement,
    TransferAuthorization,
)
from attestations.signing import AttestorKey, attest
from attestations.trust import TrustList

DIRECTORY = Path(__file__).parent / "attestations"
VERIFIED_AT = 1_790_000_000  # 2026-09-21, inside every vector's validity window
SECURITY_ID = bytes.fromhex("5c0f1b8c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c")
REGISTRY = Domain(820001, "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9")
GATEWAY = Domain(31337, "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0")
HOLDERS = Domain(31337, "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512")
INVESTORS = Domain(820001, "0x5FbDB2315678afecb367f032d93F642f64180aa3")  # the registry's InvestorRegistry


def _seed(label: str) -> bytes:
    return hashlib.sha256(f"dari-vector/{label}".encode()).digest()


def vector_keys() -> list[AttestorKey]:
    """Three TEST-ONLY attestor keys."""
    return [
        AttestorKey(f"att-{i}", Ed25519Signer(_seed(f"ed25519/att-{i}")), Secp256k1Signer(_seed(f"secp256k1/att-{i}")))
        for i in (1, 2, 3)
    ]


def signer_key(signer_id: str) -> AttestorKey:
    """A TEST-ONLY key of a signer other than the attestors (a claim issuer, a compliance officer)."""
    return AttestorKey(
        signer_id, Ed25519Signer(_seed(f"ed25519/{signer_id}")), Secp256k1Signer(_seed(f"secp256k1/{signer_id}"))
    )


def signer_trust(key: AttestorKey) -> TrustList:
    """The trust list of that one signer (threshold 1)."""
    return TrustList.parse({"epoch": 1, "threshold": 1, "attestors": [key.public()]})


def vector_trust() -> TrustList:
    log = Ed25519Signer(_seed("ed25519/log"))
    return TrustList.parse(
        {
            "epoch": 1,
            "threshold": 2,
            "attestors": [k.public() for k in vector_keys()],
            "log": {"ed25519": log.verifier.hex()},
        }
    )


STATEMENTS: dict[str, tuple[str, Statement, Domain]] = {
    "TransferAuthorization": (
        "Mint 250 units of a security to a whitelisted holder on chain 31337 for registry bridge-out 17.",
        TransferAuthorization(
            820001, 17, SECURITY_ID, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", 250, 1_800_000_000,
        ),
        GATEWAY,
    ),
    "ReleaseAuthorization": (
        "Release 40 units on the registry after burn 3 on chain 31337.",
        ReleaseAuthorization(
            31337, 3, SECURITY_ID, "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", 40,
        ),
        REGISTRY,
    ),
    "RefundAuthorization": (
        "Refund registry bridge-out 18 (reason 2: recipient not eligible).",
        RefundAuthorization(
            18, "0x5FC8d32690cc91D4c39d9d3abcBD16989F875707", "0x90F79bf6EB2c4f870365E785982E1f101E93b906", 10**21, 2,
        ),
        REGISTRY,
    ),
    "HolderEligibility": (
        "A Korean professional investor's wallet may hold every security on chain 31337 for a year.",
        HolderEligibility(
            hashlib.sha256(b"holder/minjun").digest(), "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", 31337, 410, 1,
            b"\0" * 32, hashlib.sha256(b"rule-pack/KR").digest(), 1_780_000_000, 1_811_536_000,
        ),
        HOLDERS,
    ),
    "HolderRevocation": (
        "The same wallet's eligibility is revoked (reason 1: KYC revoked on the registry).",
        HolderRevocation("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", 31337, 1, 1_790_000_100),
        HOLDERS,
    ),
    "RecognitionRecord": (
        "How the US treats a Korean equity security: conditional (Reg S, 40-day distribution compliance).",
        RecognitionRecord(
            SECURITY_ID, "KR7005930003", "US", "conditional",
            "17 CFR 230.903 (Regulation S); 17 CFR 230.144", '{"lockup_days":40,"permitted":"non-US persons"}',
            1_780_000_000, 1_811_536_000, "US@2026.1", hashlib.sha256(b"rule-pack/US").digest(),
        ),
        REGISTRY,
    ),
    "ReconciliationReport": (
        "Locked units equal wrapped supply plus in-flight bridge-outs minus in-flight bridge-backs.",
        ReconciliationReport(
            SECURITY_ID, 1234, 10_000, 9_700, 400, 100, 0, True, 1_790_000_000,
            hashlib.sha256(b"itemized report").digest(),
        ),
        REGISTRY,
    ),
    "KycClaim": (
        "A claim issuer states a Korean natural person's KYC attributes (its third claim for this holder).",
        KycClaim(
            hashlib.sha256(b"holder/minjun").digest(), 3, "KR", "natural-person", False, "clear",
            '{"document":"passport","documentHash":"0x' + hashlib.sha256(b"passport/minjun").hexdigest() + '",'
            '"method":"video-ident","verifiedAt":1779990000}',
            1_780_000_000, 1_811_536_000,
        ),
        INVESTORS,
    ),
    "OperatorDecision": (
        "A compliance officer approves a held bridge-out, keeping its lock-up.",
        OperatorDecision(
            820001, hashlib.sha256(b"tx/bridge-out/19").digest(), 2, True, 1_800_000_000,
            "Accredited-investor letter reviewed; Reg D 506(c) verification complete.", "officer-1", 1_790_000_000,
        ),
        REGISTRY,
    ),
}  # fmt: skip

# Kinds signed by someone other than the attestors: that signer's id (its key: `signer_key`).
SIGNERS: dict[str, str] = {"KycClaim": "kyc-issuer-1", "OperatorDecision": "officer-1"}


def signers(kind: str) -> tuple[list[AttestorKey], list[AttestorKey], TrustList]:
    """The vector's keys, the keys that sign it and its trust list: two of the three attestors under the
    attestors' trust list, or the kind's one signer under its own trust list."""
    if kind in SIGNERS:
        key = signer_key(SIGNERS[kind])
        return [key], [key], signer_trust(key)
    return vector_keys(), vector_keys()[:2], vector_trust()


def build(kind: str) -> dict[str, Any]:
    description, statement, domain = STATEMENTS[kind]
    keys, signing, trust = signers(kind)
    attestation = attest(statement, domain, signing).with_log_index(list(STATEMENTS).index(kind))
    return {
        "description": description,
        "keys": [k.to_json() for k in keys],
        "trust": trust.to_json(),
        "verifiedAt": VERIFIED_AT,
        "encodeType": encode_type(kind),
        "typeHash": "0x" + type_hash(kind).hex(),
        "domainSeparator": "0x" + hash_struct("EIP712Domain", domain.to_json()).hex(),
        "structHash": "0x" + hash_struct(kind, statement.to_message()).hex(),
        "attestation": attestation.to_json(),
    }


def path(kind: str) -> Path:
    return DIRECTORY / f"{kind}.json"


def main() -> None:
    DIRECTORY.mkdir(exist_ok=True)
    for kind in STATEMENTS:
        path(kind).write_text(json.dumps(build(kind), indent=2) + "\n")
        print(f"wrote {path(kind)}")


if __name__ == "__main__":
    main()
