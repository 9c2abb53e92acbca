"""Typed inputs and decisions of the jurisdiction adapters. Plain frozen data; ``now`` is an input.

Amounts are integers in the currency named next to them (major units: USD 1,000,000 is 1000000).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from adapters.errors import InvalidInputError

_ALPHA2 = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_REASON = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class AssetClass(StrEnum):
    EQUITY = "equity"
    DEBT = "debt"
    FUND_UNIT = "fund-unit"
    REAL_ESTATE_TRUST = "real-estate-trust"  # real-estate trust beneficiary certificate
    INVESTMENT_CONTRACT = "investment-contract"
    STRUCTURED_PRODUCT = "structured-product"


class OfferingFlag(StrEnum):
    """Facts about a security's offering that rules depend on (set by the issuer's counsel)."""

    PUBLIC_OFFER = "public-offer"  # offered publicly at home with a registration statement
    INSTITUTIONAL_ONLY = "institutional-only"  # KR Phase 1: private bonds / MMF for institutions only
    HK_AUTHORISED_OFFER = "hk-authorised-offer"  # HK prospectus / SFC-authorised offer for retail
    COLLECTIVE_INVESTMENT_SCHEME = "collective-investment-scheme"


class HolderKind(StrEnum):
    NATURAL_PERSON = "natural-person"
    ENTITY = "entity"


class Screening(StrEnum):
    CLEAR = "clear"
    HIT = "hit"
    NOT_SCREENED = "not-screened"


class Verdict(StrEnum):
    ALLOW = "ALLOW"
    ALLOW_CONDITIONAL = "ALLOW_CONDITIONAL"
    DENY = "DENY"
    ESCALATE = "ESCALATE"

    @property
    def allows(self) -> bool:
        return self in (Verdict.ALLOW, Verdict.ALLOW_CONDITIONAL)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInputError(message)


def _amount(value: int | None, name: str) -> None:
    _check(
        value is None or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**30),
        f"{name}: a non-negative integer",
    )


@dataclass(frozen=True)
class Security:
    """The security: id (bytes32 hex), ISIN, asset class, issuer country and reporting status, offering flags."""

    security_id: str
    isin: str
    asset_class: AssetClass
    issuer_country: str = "KR"
    issuer_sec_reporting: bool = False  # US Exchange Act reporting for 90+ days (Rule 144 holding period)
    flags: frozenset[OfferingFlag] = frozenset()

    def __post_init__(self) -> None:
        _check(
            isinstance(self.security_id, str) and bool(_HEX32.match(self.security_id)),
            "security_id: 0x + 64 hex digits",
        )
        _check(
            isinstance(self.isin, str) and bool(re.match(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$", self.isin)),
            "isin: 12 characters",
        )
        _check(isinstance(self.asset_class, AssetClass), "asset_class: an AssetClass")
        _check(
            isinstance(self.issuer_country, str) and bool(_ALPHA2.match(self.issuer_country)),
            "issuer_country: ISO alpha-2",
        )
        _check(
            isinstance(self.flags, frozenset) and all(isinstance(f, OfferingFlag) for f in self.flags),
            "flags: OfferingFlags",
        )


@dataclass(frozen=True)
class Evidence:
    """What the holder's KYC established, with every amount in ``currency``. None: not evidenced."""

    currency: str
    net_worth: int | None = None  # natural person, excluding the primary residence
    primary_residence_equity: int | None = None
    income: int | None = None  # lower of the last two years (US), or last 12 months
    joint_income: int | None = None  # with spouse, lower of the last two years
    net_financial_assets: int | None = None
    financial_assets: int | None = None
    portfolio: int | None = None  # investments held
    total_assets: int | None = None  # entities
    balance_sheet: int | None = None  # entities
    net_turnover: int | None = None  # entities
    own_funds: int | None = None  # entities
    securities_owned: int | None = None  # securities owned and invested (US QIB)
    trades_per_quarter: int | None = None  # significant trades per quarter over the last four
    experience_years: int | None = None  # years of relevant (financial-sector or trading) experience
    investment_balance: int | None = None  # KR: financial-investment products held
    investment_holding_years: int | None = None  # KR: years such products were held in the last five
    licences: frozenset[str] = frozenset()  # e.g. "series-7", "series-65", "series-82", "kr-licensed-expert"
    certifications: frozenset[str] = frozenset()  # self-certifications, e.g. "uk-hnw", "uk-sophisticated"
    opted_in: bool = False  # elected professional / accredited / specified investor status
    institution: bool = False  # a licensed financial institution or institutional investor

    def __post_init__(self) -> None:
        _check(isinstance(self.currency, str) and bool(_CURRENCY.match(self.currency)), "evidence.currency: ISO 4217")
        for name in (
            "net_worth", "primary_residence_equity", "income", "joint_income", "net_financial_assets",
            "financial_assets", "portfolio", "total_assets", "balance_sheet", "net_turnover", "own_funds",
            "securities_owned", "trades_per_quarter", "experience_years", "investment_balance",
            "investment_holding_years",
        ):  # fmt: skip
            _amount(getattr(self, name), f"evidence.{name}")
        for name in ("licences", "certifications"):
            value = getattr(self, name)
            _check(isinstance(value, frozenset) and all(isinstance(v, str) for v in value), f"evidence.{name}: strings")
        _check(isinstance(self.opted_in, bool) and isinstance(self.institution, bool), "evidence flags: booleans")


@dataclass(frozen=True)
class Holder:
    """The prospective holder: pseudonymous id hash, wallet, residency, kind, US-person flag, screening."""

    holder_id: str
    wallet: str
    residency: str
    kind: HolderKind
    evidence: Evidence
    us_person: bool = False
    sanctions: Screening = Screening.NOT_SCREENED

    def __post_init__(self) -> None:
        _check(isinstance(self.holder_id, str) and bool(_HEX32.match(self.holder_id)), "holder_id: 0x + 64 hex digits")
        _check(isinstance(self.wallet, str) and bool(_ADDRESS.match(self.wallet)), "wallet: 0x + 40 hex digits")
        _check(isinstance(self.residency, str) and bool(_ALPHA2.match(self.residency)), "residency: ISO alpha-2")
        _check(isinstance(self.kind, HolderKind), "kind: a HolderKind")
        _check(isinstance(self.evidence, Evidence), "evidence: an Evidence")
        _check(isinstance(self.us_person, bool), "us_person: a boolean")
        _check(isinstance(self.sanctions, Screening), "sanctions: a Screening")


@dataclass(frozen=True)
class Context:
    """The transfer: units, their value, when the holder acquires them, current holder counts, and now."""

    now: int
    amount: int
    value: int | None = None  # value of the transfer in ``value_currency``
    value_currency: str | None = None
    acquired_at: int | None = None  # Unix seconds; default: now
    holders_in_jurisdiction: int = 0  # holders of this security resident in the destination jurisdiction
    holders_total: int = 0
    purchases_12m: int | None = None  # this holder's purchases of such securities in 12 months, value_currency

    def __post_init__(self) -> None:
        _check(
            isinstance(self.now, int) and not isinstance(self.now, bool) and 0 <= self.now < 2**63, "now: Unix seconds"
        )
        _check(
            isinstance(self.amount, int) and not isinstance(self.amount, bool) and 0 < self.amount < 2**256,
            "amount: positive",
        )
        _amount(self.value, "value")
        _check(
            self.value_currency is None
            or (isinstance(self.value_currency, str) and bool(_CURRENCY.match(self.value_currency))),
            "value_currency: ISO 4217",
        )
        _check((self.value is None) == (self.value_currency is None), "value and value_currency go together")
        _check(
            self.acquired_at is None or (isinstance(self.acquired_at, int) and 0 <= self.acquired_at < 2**63),
            "acquired_at: Unix seconds",
        )
        for name in ("holders_in_jurisdiction", "holders_total", "purchases_12m"):
            _amount(getattr(self, name), name)

    @property
    def acquisition(self) -> int:
        return self.now if self.acquired_at is None else self.acquired_at


@dataclass(frozen=True)
class Request:
    """Everything a decision depends on."""

    security: Security
    holder: Holder
    context: Context

    def __post_init__(self) -> None:
        _check(isinstance(self.security, Security), "security: a Security")
        _check(isinstance(self.holder, Holder), "holder: a Holder")
        _check(isinstance(self.context, Context), "context: a Context")


@dataclass(frozen=True)
class Conditions:
    """What an ALLOW_CONDITIONAL holder must respect."""

    lockup_until: int | None = None  # no transfer before (Unix seconds)
    permitted_transferees: tuple[str, ...] = ()  # whom the holder may transfer to meanwhile
    max_value: int | None = None  # cap on the transfer's value, in value_currency
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self == Conditions()

    def merge(self, other: Conditions) -> Conditions:
        """Both sets of conditions at once: the later lock-up, the common transferees, the lower cap."""
        lockups = [x for x in (self.lockup_until, other.lockup_until) if x is not None]
        caps = [x for x in (self.max_value, other.max_value) if x is not None]
        if self.permitted_transferees and other.permitted_transferees:
            transferees = tuple(t for t in self.permitted_transferees if t in other.permitted_transferees)
        else:
            transferees = self.permitted_transferees or other.permitted_transferees
        return Conditions(
            max(lockups) if lockups else None, transferees, min(caps) if caps else None, (*self.notes, *other.notes)
        )

    def to_json(self) -> dict[str, object]:
        return {
            "lockup_until": self.lockup_until,
            "permitted_transferees": list(self.permitted_transferees),
            "max_value": self.max_value,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Decision:
    """An adapter's answer: verdict, reason codes, legal basis, conditions, the rule pack and its sources."""

    jurisdiction: str
    verdict: Verdict
    reasons: tuple[str, ...]
    basis: tuple[str, ...]
    rule_pack_id: str
    rule_pack_hash: str
    conditions: Conditions = field(default_factory=Conditions)
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(
            bool(self.reasons) and all(_REASON.match(r) for r in self.reasons),
            f"reasons must be kebab-case codes: {self.reasons}",
        )

    def to_json(self) -> dict[str, object]:
        return {
            "jurisdiction": self.jurisdiction,
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            "basis": list(self.basis),
            "conditions": self.conditions.to_json(),
            "rulePackId": self.rule_pack_id,
            "rulePackHash": self.rule_pack_hash,
            "sources": list(self.sources),
        }
