"""The adapter framework: rule packs, the Decider's unverified-rule guard, composition, sanctions, plug-ins."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters import reasons
from adapters.compose import combine, decide_transfer
from adapters.decider import Decider
from adapters.errors import AdapterLoadError, RulePackError, SanctionsListError
from adapters.registry import Adapter, Adapters, load_plugins
from adapters.rulepack import DEFAULT_DIRECTORY, load_pack, load_packs, parse_pack
from adapters.sanctions import SanctionsList
from adapters.types import Conditions, Decision, Request, Screening, Verdict
from tests.adapters.factories import NOW, holder, pack, request, security


def synthetic_pack(code: str, countries: list[str], verified: bool = True) -> Any:
    minimum = {"value": 10, "op": ">=", "citation": f"{code} Act s1", "source": "test", "verified": verified}
    return parse_pack(
        {
            "jurisdiction": code,
            "version": "1",
            "name": code,
            "currency": "USD",
            "countries": countries,
            "rules": {"minimum": minimum},
        }
    )


def threshold_adapter(code: str) -> Adapter:
    """Allows holders whose income meets the pack's ``minimum``; conditions for KR-side allowances."""

    def decide(req: Request, rules: Decider) -> Decision:
        if rules.meets("minimum", req.holder.evidence.income):
            if code == "KR":
                return rules.conditional(Conditions(lockup_until=NOW + 10))
            return rules.allow()
        return rules.deny(reasons.INVESTOR_CATEGORY)

    return Adapter(code, decide)


def adapters(kr_verified: bool = True) -> Adapters:
    packs = {"KR": synthetic_pack("KR", ["KR"], kr_verified), "XX": synthetic_pack("XX", ["XA", "XB"])}
    return Adapters(packs, {"KR": threshold_adapter("KR"), "XX": threshold_adapter("XX")})


def test_every_shipped_pack_loads_and_cites_its_verified_rules() -> None:
    packs = load_packs()
    assert set(packs) == {"KR", "US", "EU", "SG", "HK", "JP", "CH", "UK"}
    for code, rule_pack in packs.items():
        assert rule_pack.content_hash.startswith("0x")
        assert len(rule_pack.content_hash) == 66
        for rule in rule_pack.rules.values():
            assert not rule.verified or (rule.citation and rule.source), (code, rule.key)


def test_pack_hash_is_of_content_not_formatting(tmp_path: Path) -> None:
    original = (DEFAULT_DIRECTORY / "SG.toml").read_text()
    reformatted = tmp_path / "SG.toml"
    reformatted.write_text("# a comment\n\n" + original.replace(" = ", "="))
    assert load_pack(reformatted).content_hash == pack("SG").content_hash
    changed = tmp_path / "SG2.toml"
    changed.write_text(original.replace("value = 2000000", "value = 2000001"))
    assert load_pack(changed).content_hash != pack("SG").content_hash


def test_pack_problems_are_all_reported() -> None:
    with pytest.raises(RulePackError) as info:
        parse_pack(
            {
                "jurisdiction": "XX",
                "version": 1,
                "name": "X",
                "currency": "USD",
                "countries": ["XX"],
                "rules": {},
                "x": 1,
            }
        )
    assert "version" in str(info.value)
    assert "unexpected keys" in str(info.value)
    bad_rules = {
        "a": {"value": 1, "citation": "c", "source": "s"},
        "b": {"value": "x", "op": ">", "citation": "c", "source": "s", "verified": True},
        "c": {"value": 1, "citation": "", "source": "", "verified": True},
    }
    with pytest.raises(RulePackError) as info:
        parse_pack(
            {
                "jurisdiction": "XX",
                "version": "1",
                "name": "X",
                "currency": "USD",
                "countries": ["xx"],
                "rules": bad_rules,
            }
        )
    message = str(info.value)
    assert all(f"rules.{k}" in message for k in "abc")
    assert "countries" in message


def test_pack_file_must_match_its_code(tmp_path: Path) -> None:
    (tmp_path / "ZZ.toml").write_text((DEFAULT_DIRECTORY / "SG.toml").read_text())
    with pytest.raises(RulePackError, match="declares jurisdiction SG"):
        load_packs(tmp_path)
    with pytest.raises(RulePackError, match="no rule packs"):
        load_packs(tmp_path / "empty")


def test_missing_rule_is_a_typed_error() -> None:
    with pytest.raises(RulePackError, match="has no rule 'nope'"):
        Decider(pack("SG")).rule("nope")


def test_decider_turns_unverified_allow_into_escalate_but_keeps_deny() -> None:
    rules = Decider(synthetic_pack("XX", ["XA"], verified=False))
    assert rules.meets("minimum", 11)
    escalated = rules.allow()
    assert (escalated.verdict, escalated.reasons[0]) == (Verdict.ESCALATE, reasons.UNVERIFIED_RULE)
    assert escalated.conditions.notes == ("unverified rule: minimum",)
    denied = Decider(synthetic_pack("XX", ["XA"], verified=False))
    denied.rule("minimum")
    assert denied.deny(reasons.INVESTOR_CATEGORY).verdict == Verdict.DENY


def test_decision_carries_basis_pack_and_sources() -> None:
    rules = Decider(synthetic_pack("XX", ["XA"]))
    rules.meets("minimum", 10)
    rules.cite("XX Constitution art. 1")
    decision = rules.allow()
    assert decision.basis == ("XX Constitution art. 1", "XX Act s1")
    assert decision.rule_pack_id == "XX@1"
    assert decision.rule_pack_hash == synthetic_pack("XX", ["XA"]).content_hash
    assert decision.sources == ("test",)


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ((Verdict.ALLOW, Verdict.ALLOW), Verdict.ALLOW),
        ((Verdict.ALLOW, Verdict.ALLOW_CONDITIONAL), Verdict.ALLOW_CONDITIONAL),
        ((Verdict.ALLOW_CONDITIONAL, Verdict.ESCALATE), Verdict.ESCALATE),
        ((Verdict.ESCALATE, Verdict.DENY), Verdict.DENY),
        ((Verdict.DENY, Verdict.ALLOW), Verdict.DENY),
    ],
)
def test_combine_is_an_and(verdicts: tuple[Verdict, Verdict], expected: Verdict) -> None:
    decisions = [
        Decision("A", verdicts[0], ("a-reason",), ("A basis",), "A@1", "0x1"),
        Decision("B", verdicts[1], ("b-reason",), ("B basis",), "B@1", "0x2"),
    ]
    combined = combine(decisions)
    assert combined.verdict == expected
    assert combined.basis == ("A basis", "B basis")


def test_conditions_merge_takes_the_stricter() -> None:
    a = Conditions(lockup_until=100, permitted_transferees=("qib", "offshore"), max_value=50)
    b = Conditions(lockup_until=200, permitted_transferees=("qib",), max_value=70, notes=("n",))
    assert a.merge(b) == Conditions(200, ("qib",), 50, ("n",))
    assert Conditions().merge(b) == b


def test_transfer_needs_home_and_destination() -> None:
    both = decide_transfer(request(security(), holder("XA", "USD", income=10)), adapters())
    assert both.verdict == Verdict.ALLOW_CONDITIONAL  # home conditions carried into the result
    assert [d.jurisdiction for d in both.decisions] == ["KR", "XX"]
    assert both.conditions.lockup_until == NOW + 10
    home_denies = decide_transfer(request(security(), holder("XB", "USD", income=9)), adapters())
    assert home_denies.verdict == Verdict.DENY
    unverified_home = decide_transfer(request(security(), holder("XA", "USD", income=10)), adapters(kr_verified=False))
    assert unverified_home.verdict == Verdict.ESCALATE
    assert reasons.UNVERIFIED_RULE in unverified_home.reasons


def test_home_resident_is_decided_once() -> None:
    decision = decide_transfer(request(security(), holder("KR", "USD", income=10)), adapters())
    assert [d.jurisdiction for d in decision.decisions] == ["KR"]


def test_unknown_jurisdiction_fails_closed() -> None:
    decision = decide_transfer(request(security(), holder("ZZ", "USD", income=10**6)), adapters())
    assert (decision.verdict, decision.reasons) == (Verdict.DENY, (reasons.JURISDICTION_UNSUPPORTED,))


def test_sanctions_first(tmp_path: Path) -> None:
    listed = holder("XA", "USD", income=10)
    screened = holder("XA", "USD", sanctions=Screening.HIT, income=10)
    unscreened = holder("XA", "USD", sanctions=Screening.NOT_SCREENED, income=10)
    path = tmp_path / "sanctions.json"
    path.write_text(
        json.dumps({"source": "test list", "holder_ids": [], "wallets": [listed.wallet.upper().replace("0X", "0x")]})
    )
    sanctions = SanctionsList.load(path)
    hit = decide_transfer(request(security(), listed), adapters(), sanctions)
    assert (hit.verdict, hit.reasons) == (Verdict.DENY, (reasons.SANCTIONS_HIT,))
    assert any(sanctions.content_hash in b for b in hit.basis)
    assert decide_transfer(request(security(), screened), adapters()).reasons == (reasons.SANCTIONS_HIT,)
    assert decide_transfer(request(security(), unscreened), adapters()).reasons == (reasons.SANCTIONS_NOT_SCREENED,)
    by_id = SanctionsList.parse({"source": "s", "holder_ids": [listed.holder_id], "wallets": []})
    assert decide_transfer(request(security(), listed), adapters(), by_id).verdict == Verdict.DENY


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {"source": "s"},
        {"source": "", "holder_ids": [], "wallets": []},
        {"source": "s", "holder_ids": ["0x12"], "wallets": []},
    ],
)
def test_malformed_sanctions_lists(raw: Any) -> None:
    with pytest.raises(SanctionsListError):
        SanctionsList.parse(raw)


def test_overlapping_countries_are_refused() -> None:
    packs = {"XX": synthetic_pack("XX", ["XA"]), "YY": synthetic_pack("YY", ["XA"])}
    with pytest.raises(RulePackError, match="claimed by"):
        Adapters(packs, {"XX": threshold_adapter("XX"), "YY": threshold_adapter("YY")})
    with pytest.raises(RulePackError, match="no rule pack"):
        Adapters({}, {"XX": threshold_adapter("XX")})


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real installed distribution (dist-info on sys.path) declaring two dari.adapters entry points."""
    (tmp_path / "zz_adapter.py").write_text(
        textwrap.dedent(
            """
            from adapters import reasons
            JURISDICTION = "ZZ"
            def decide(request, rules):
                return rules.deny(reasons.INVESTOR_CATEGORY)
            """
        )
    )
    (tmp_path / "broken_adapter.py").write_text("raise ImportError('boom')\n")
    info = tmp_path / "zz_adapters-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zz-adapters\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[dari.adapters]\nzz = zz_adapter\nbroken = broken_adapter\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("zz_adapter", "broken_adapter"):
        sys.modules.pop(name, None)


def test_plugins_load_only_when_allowlisted(plugin_path: Path) -> None:
    assert load_plugins([]) == {}
    loaded = load_plugins(["zz"])
    assert list(loaded) == ["ZZ"]
    with pytest.raises(AdapterLoadError, match="failed to load"):
        load_plugins(["broken"])
    with pytest.raises(AdapterLoadError, match="not installed"):
        load_plugins(["absent"])


def test_docs_name_every_unverified_rule() -> None:
    """docs/jurisdictions.md lists, per jurisdiction, what ESCALATEs because it is unverified."""
    overview = (DEFAULT_DIRECTORY.parent.parent / "docs" / "jurisdictions.md").read_text()
    for code, rule_pack in load_packs().items():
        for key, rule in rule_pack.rules.items():
            if not rule.verified:
                assert f"`{key}`" in overview, (code, key)
        assert (DEFAULT_DIRECTORY.parent.parent / "docs" / "jurisdictions" / f"{code}.md").exists()
