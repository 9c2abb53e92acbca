"""Recognition records: status derived from the adapters, signed as RecognitionRecord attestations."""

from __future__ import annotations

import json

import pytest

from adapters.recognition import recognize
from adapters.registry import Adapters, builtin_adapters
from adapters.rulepack import load_packs
from adapters.types import AssetClass, OfferingFlag
from attestations.eip712 import Domain
from attestations.kinds import RecognitionRecord, check_recognition
from attestations.signing import attest
from attestations.verify import verify
from tests.adapters.factories import DAY, NOW, security
from tests.vectors.attestation_vectors import vector_keys, vector_trust

ADAPTERS = Adapters(load_packs(), builtin_adapters())


@pytest.mark.parametrize("code", sorted(ADAPTERS.adapters))
def test_every_jurisdiction_yields_a_well_formed_record(code: str) -> None:
    found = recognize(security(), code, ADAPTERS, NOW, 90)
    record = found.record
    check_recognition(record)
    assert record.jurisdiction == code
    assert record.valid_until == NOW + 90 * DAY
    assert record.rule_pack_id == ADAPTERS.packs[code].id
    assert "0x" + record.rule_pack_hash.hex() == ADAPTERS.packs[code].content_hash
    assert record.basis
    conditions = json.loads(record.conditions)
    assert set(conditions) == {"investors", "retail", "qualified", "home"}
    assert conditions["home"]["jurisdiction"] == "KR"


def test_statuses_follow_the_decisions() -> None:
    hk_plain = recognize(security(AssetClass.EQUITY), "HK", ADAPTERS, NOW, 90)
    assert hk_plain.retail.verdict.value == "DENY"
    hk_offer = recognize(security(AssetClass.EQUITY, OfferingFlag.HK_AUTHORISED_OFFER), "HK", ADAPTERS, NOW, 90)
    assert hk_offer.retail.verdict.allows
    assert hk_offer.record.status in ("recognized", "conditional")
    sg = recognize(security(), "SG", ADAPTERS, NOW, 90)
    assert sg.record.status == "conditional"  # institutions yes (with s276 resale restriction), retail no
    assert json.loads(sg.record.conditions)["investors"] == ["qualified"]
    assert json.loads(sg.record.conditions)["qualified"]["lockupDays"] == 183


def test_record_is_signed_and_verifies() -> None:
    record = recognize(security(), "US", ADAPTERS, NOW, 90).record
    signed = attest(record, Domain(820001, "0x" + "11" * 20), vector_keys()[:2])
    assert verify(signed.dumps(), vector_trust(), now=NOW + 1, kind=RecognitionRecord) == record
