"""Hong Kong: tokenized securities are traditional securities in a tokenization wrapper (SFC circular
2023-11-02). Professional investors (Cap. 571D portfolio or asset tests; institutions on an unverified rule)
may hold them; retail holders only under an authorised / prospectus offer (SFO Part IV, prospectus regime).
A collective-investment-scheme structure may be a complex product: that retail case carries a condition,
and ESCALATEs while the rule is unverified."""

from __future__ import annotations

from adapters import reasons
from adapters.decider import Decider
from adapters.jurisdictions.common import currency_mismatch
from adapters.types import Conditions, Decision, HolderKind, OfferingFlag, Request

JURISDICTION = "HK"
COMPLEX_PRODUCT = "complex-product"
COMPLEX_PRODUCT_NOTE = "complex product: the distributing intermediary applies the SFC complex-product requirements"


def professional(request: Request, rules: Decider) -> bool:
    """A Cap. 571D individual or corporation / partnership, else an institution (an unverified rule)."""
    evidence = request.holder.evidence
    if request.holder.kind == HolderKind.NATURAL_PERSON:
        wealthy = rules.meets("pi_individual_portfolio", evidence.portfolio)
    else:
        wealthy = rules.meets("pi_corporate_portfolio", evidence.portfolio) or rules.meets(
            "pi_corporate_total_assets", evidence.total_assets
        )
    if wealthy:
        return True
    if evidence.institution:  # an allow resting on this unverified rule ESCALATEs
        rules.rule("pi_institution")
        return True
    return False


def decide(request: Request, rules: Decider) -> Decision:
    rules.rule("tokenized_securities_are_securities")
    mismatch = currency_mismatch(request, rules)
    if mismatch is not None:
        return mismatch
    if professional(request, rules):
        return rules.allow(reasons.ELIGIBLE)
    rules.rule("retail_offer_regime")
    flags = request.security.flags
    if OfferingFlag.HK_AUTHORISED_OFFER not in flags:
        return rules.deny(reasons.OFFERING)
    if OfferingFlag.COLLECTIVE_INVESTMENT_SCHEME in flags and rules.value("cis_complex_product"):
        return rules.conditional(Conditions(notes=(COMPLEX_PRODUCT_NOTE,)), COMPLEX_PRODUCT)
    return rules.allow(reasons.ELIGIBLE)
