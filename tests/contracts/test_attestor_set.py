"""AttestorSet: threshold signatures in strict signer order, and rotation to a new epoch."""

from __future__ import annotations

import pytest

from attestations.eip712 import Domain, digest
from attestations.keys import Secp256k1Signer, sign_ordered
from relayer.edges.evm.client import ContractReverted
from relayer.edges.evm.deployment import ordered
from tests.contracts.system import System, attestor_signers, events

pytestmark = pytest.mark.integration


async def expect_revert(system: System, fn: object, error: str) -> ContractReverted:
    with pytest.raises(ContractReverted) as info:
        await system.transact(fn)
    assert info.value.error == error, info.value
    return info.value


def by_address(signers: list[Secp256k1Signer]) -> list[Secp256k1Signer]:
    return sorted(signers, key=lambda s: int(s.address, 16))


async def test_views_describe_the_committee(system: System) -> None:
    """INV-007: the committee is public: epoch, members in increasing order, threshold."""
    attestors = system.public_attestors
    assert await system.chain.call(attestors.functions.epoch()) == 1
    assert await system.chain.call(attestors.functions.threshold()) == 2
    members = await system.chain.call(attestors.functions.attestors())
    assert members == ordered([a.address for a in system.attestors])
    assert await system.chain.call(attestors.functions.isAttestor(system.attestors[0].address))
    assert not await system.chain.call(attestors.functions.isAttestor(system.admin.address))


async def test_verify_accepts_threshold_and_more(system: System) -> None:
    """INV-007: two of three, or all three, in increasing order verify."""
    digest = b"\x42" * 32
    verify = system.public_attestors.functions.verify
    await system.chain.call(verify(digest, sign_ordered(digest, system.attestors[:2])))
    await system.chain.call(verify(digest, sign_ordered(digest, system.attestors)))


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("too-few", "AttestorThresholdNotMet"),
        ("none", "AttestorThresholdNotMet"),
        ("duplicate", "AttestorDuplicate"),
        ("unordered", "AttestorsUnordered"),
        ("outsider", "AttestorUnknown"),
        ("short", "AttestorSignatureInvalid"),
        ("high-s", "AttestorSignatureInvalid"),
    ],
)
async def test_verify_rejects(system: System, case: str, error: str) -> None:
    """INV-007: no signer counts twice, order is strict, only members count, malformed signatures fail."""
    digest = b"\x42" * 32
    first, second, _third = by_address(system.attestors)
    signatures = {
        "too-few": [first.sign(digest)],
        "none": [],
        "duplicate": [first.sign(digest), first.sign(digest)],
        "unordered": [second.sign(digest), first.sign(digest)],
        "outsider": sign_ordered(digest, [first, attestor_signers("outsider", 1)[0]]),
        "short": [first.sign(digest)[:64], second.sign(digest)],
        "high-s": [_high_s(first.sign(digest)), second.sign(digest)],
    }[case]
    with pytest.raises(ContractReverted) as info:
        await system.chain.call(system.public_attestors.functions.verify(digest, signatures))
    assert info.value.error == error


def _high_s(signature: bytes) -> bytes:
    """The same signature with s' = n - s and v flipped: valid for plain ecrecover, malleable."""
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(signature[32:64], "big")
    v = 27 if signature[64] == 28 else 28
    return signature[:32] + (n - s).to_bytes(32, "big") + bytes([v])


async def test_rotation_to_a_new_epoch(system: System) -> None:
    """INV-009: a threshold of the current epoch installs the next; old signatures are void afterwards."""
    new = attestor_signers("epoch-2", 4)
    members = ordered([s.address for s in new])
    attestors = system.public_attestors
    message = {"epoch": 2, "attestors": members, "threshold": 3}
    domain = Domain(system.chain_id, system.public.attestor_set)
    signatures = system.sign("AttestorRotation", system.public.attestor_set, message, domain=domain)
    assert await system.chain.call(attestors.functions.rotationDigest(members, 3)) == _digest(system, message)
    receipt = await system.transact(attestors.functions.rotate(members, 3, signatures))
    [event] = events(attestors, "AttestorsRotated", receipt)
    assert (event["epoch"], event["threshold"]) == (2, 3)
    assert await system.chain.call(attestors.functions.epoch()) == 2

    holder = await system.funded_account()
    eligibility = await system.eligibility(holder.address)
    old = system.sign("HolderEligibility", system.public.holder_registry, eligibility)
    await expect_revert(system, system.holders.functions.registerHolder(eligibility, old), "AttestorUnknown")
    two_new = system.sign("HolderEligibility", system.public.holder_registry, eligibility, signers=new[:2])
    await expect_revert(
        system, system.holders.functions.registerHolder(eligibility, two_new), "AttestorThresholdNotMet"
    )
    three_new = system.sign("HolderEligibility", system.public.holder_registry, eligibility, signers=new[:3])
    await system.transact(system.holders.functions.registerHolder(eligibility, three_new))
    assert await system.chain.call(system.holders.functions.isVerified(holder.address))


def _digest(system: System, message: dict[str, object]) -> bytes:
    return digest("AttestorRotation", Domain(system.chain_id, system.public.attestor_set), message)


async def test_rotation_needs_the_current_threshold(system: System) -> None:
    """INV-009: one current attestor, or a signature over another epoch number, cannot rotate."""
    new = ordered([s.address for s in attestor_signers("epoch-2", 3)])
    attestors = system.public_attestors
    one = system.sign("AttestorRotation", system.public.attestor_set, {"epoch": 2, "attestors": new, "threshold": 1},
                      signers=system.attestors[:1])  # fmt: skip
    await expect_revert(system, attestors.functions.rotate(new, 1, one), "AttestorThresholdNotMet")
    skipped = system.sign(
        "AttestorRotation", system.public.attestor_set, {"epoch": 3, "attestors": new, "threshold": 1}
    )
    await expect_revert(system, attestors.functions.rotate(new, 1, skipped), "AttestorUnknown")


@pytest.mark.parametrize("case", ["unsorted", "threshold-zero", "threshold-too-high", "empty", "zero-address"])
async def test_rotation_rejects_invalid_committees(system: System, case: str) -> None:
    """INV-009: committees are non-empty, strictly increasing, non-zero, with 1 <= threshold <= size."""
    members = ordered([s.address for s in attestor_signers("epoch-2", 3)])
    members, threshold = {
        "unsorted": (list(reversed(members)), 2),
        "threshold-zero": (members, 0),
        "threshold-too-high": (members, 4),
        "empty": ([], 1),
        "zero-address": (["0x" + "00" * 20, *members], 2),
    }[case]
    message = {"epoch": 2, "attestors": members, "threshold": threshold}
    signatures = system.sign("AttestorRotation", system.public.attestor_set, message)
    await expect_revert(
        system, system.public_attestors.functions.rotate(members, threshold, signatures), "AttestorSetInvalid"
    )
