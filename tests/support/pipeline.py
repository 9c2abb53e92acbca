"""What the pipeline's unit tests share: a configuration of a registry and two public chains, the devnet's
attestor keys, operations of each kind, and walks along the state machine to a given state with a real,
stored attestation."""

from __future__ import annotations

from typing import Any

from eth_utils.address import to_checksum_address

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.signing import AttestorKey
from attestations.trust import TrustList
from relayer.core.config import Config, RelayerConfig, SecretRef, parse_config
from relayer.core.model import Operation, Source
from relayer.core.signed import signed_decision
from relayer.core.statements import statement_for
from relayer.core.transfer_state import Event, Kind, State
from relayer.devtools.devnet.cast import attestor_key, officer_key
from tests.support.memory import Clock, MemoryOperationStore

REGISTRY, PUBLIC, OTHER = 820001, 31337, 31338
ESCROW = to_checksum_address("0x" + "e5" * 20)
GATEWAY = to_checksum_address("0x" + "9a" * 20)
OTHER_GATEWAY = to_checksum_address("0x" + "9b" * 20)
HOLDER_REGISTRY = to_checksum_address("0x" + "40" * 20)
TOKEN = to_checksum_address("0x" + "70" * 20)
SENDER = to_checksum_address("0x" + "5e" * 20)
RECIPIENT = to_checksum_address("0x" + "4c" * 20)
SECURITY = "0x" + "5c" * 32

CONFIG: Config = parse_config({
    "registry": {
        "name": "registry", "chain_id": REGISTRY, "rpc_url": "http://127.0.0.1:1", "confirmations": 0,
        "contracts": {"escrow": ESCROW},
    },
    "public": [
        {"name": "ethereum", "chain_id": PUBLIC, "rpc_url": "http://127.0.0.1:2", "confirmations": 2,
         "contracts": {"gateway": GATEWAY, "holderRegistry": HOLDER_REGISTRY}},
        {"name": "other", "chain_id": OTHER, "rpc_url": "http://127.0.0.1:3", "confirmations": 0,
         "contracts": {"gateway": OTHER_GATEWAY, "holderRegistry": HOLDER_REGISTRY}},
    ],
})  # fmt: skip
KEYS = [attestor_key(i) for i in ("att-1", "att-2", "att-3")]
THRESHOLD_KEYS = sorted(KEYS, key=lambda k: int(k.public()["address"], 16))[:2]
TRUST = TrustList.parse({"epoch": 1, "threshold": 2, "attestors": [k.public() for k in KEYS]})
OFFICER = officer_key()
OFFICERS = TrustList.parse({"epoch": 1, "threshold": 1, "attestors": [OFFICER.public()]})
DECISIONS = Domain(REGISTRY, ESCROW)  # `relayer.core.signed.decisions_domain`

Steps = tuple[tuple[Event, dict[str, Any]], ...]
APPROVE: Steps = ((Event.FINALIZED, {}), (Event.APPROVED, {}))
REJECT: Steps = ((Event.FINALIZED, {}), (Event.REJECTED, {"reason": "sanctions-hit", "reason_code": 3}))
DENY: Steps = ((Event.FINALIZED, {}), (Event.REJECTED, {"reason": "compliance-deny", "reason_code": 2}))


def settings(**overrides: Any) -> RelayerConfig:
    """Delivery settings (the signer is never read by the stages)."""
    return RelayerConfig(signer=SecretRef(key_env="DARI_TEST_UNUSED_KEY"), **overrides)


def bridge_out(n: int, *, dest: int = PUBLIC) -> Operation:
    """Bridge-out number ``n`` (its position on the registry orders it)."""
    return Operation(
        id=f"out-{n}", kind=Kind.BRIDGE_OUT, state=State.OBSERVED,
        source=Source(REGISTRY, f"0x{n:064x}", 1000 + n, f"0x{1000 + n:064x}", 0), dest_chain_id=dest,
        source_nonce=n, security_id=SECURITY, token=TOKEN, sender=SENDER, recipient=RECIPIENT, amount=100 * n,
    )  # fmt: skip


def bridge_back(n: int) -> Operation:
    """Bridge-back number ``n`` on the public chain."""
    return Operation(
        id=f"back-{n}", kind=Kind.BRIDGE_BACK, state=State.OBSERVED,
        source=Source(PUBLIC, f"0x{n + 500:064x}", 1000 + n, f"0x{2000 + n:064x}", 1), dest_chain_id=REGISTRY,
        source_nonce=n, security_id=SECURITY, token=TOKEN, sender=RECIPIENT, recipient=SENDER, amount=7 * n,
    )  # fmt: skip


def registration(n: int) -> Operation:
    """Wallet link number ``n``: a holder registration on the public chain."""
    return Operation(
        id=f"reg-{n}", kind=Kind.HOLDER_REGISTER, state=State.OBSERVED,
        source=Source(REGISTRY, f"0x{n + 900:064x}", 1000 + n, f"0x{3000 + n:064x}", 2), dest_chain_id=PUBLIC,
        recipient=RECIPIENT,
    )  # fmt: skip


async def walk(store: MemoryOperationStore, op: Operation, *steps: tuple[Event, dict[str, Any]]) -> Operation:
    """``op`` observed, then taken along ``steps`` (event, fields set) of the state machine."""
    assert await store.observe_many([op]) == [True]
    for event, fields in steps:
        await store.transition(op.id, event, **fields)
    return await store.get(op.id)


def decision_for(
    op: Operation, approve: bool = True, *, locked_until: int | None = None, key: AttestorKey = OFFICER
) -> Attestation:
    """The devnet officer's (or ``key``'s) signed decision about ``op``, approving with the lock-up ``op``
    carries unless ``locked_until`` is given, or rejecting."""
    kept = (op.locked_until or 0) if locked_until is None else locked_until
    return signed_decision(
        key, DECISIONS, op.source, approve=approve, locked_until=kept, reason="reviewed", now=1_800_000_000
    )


def signed(op: Operation) -> Attestation:
    """The attestation delivering ``op`` in its state, signed by the threshold of the devnet's attestor keys."""
    statement, domain = statement_for(op, CONFIG)
    unsigned = Attestation(statement, domain)
    return unsigned.with_signatures([k.sign(unsigned.digest) for k in THRESHOLD_KEYS])


async def attested(
    store: MemoryOperationStore, clock: Clock, op: Operation, *, refund: bool = False, attempts: int = 0
) -> tuple[Operation, Attestation]:
    """``op`` walked to attested (a refund: refund-attested), its attestation stored; both."""
    approved = await walk(store, op, *(DENY if refund else APPROVE))
    attestation = signed(approved)
    await store.save_attestation(attestation, op.id)
    digest = "0x" + attestation.digest.hex()
    moved = await store.transition(
        op.id, Event.ATTESTED, attestation=digest, attempts=attempts, next_attempt_at=clock.utc()
    )
    return moved, attestation
