"""`dari recognition list|show|verify|check`: what each jurisdiction recognizes, and pre-transfer checks."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from adapters.compose import decide_transfer
from adapters.errors import AdapterError
from adapters.recognition import recognize
from adapters.types import Context, Evidence, Holder, HolderKind, Request, Screening
from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.errors import AttestationError
from attestations.kinds import RecognitionRecord
from attestations.signing import AttestorKey, attest
from attestations.verify import verify
from relayer.cli import err, fails_cleanly, json_option, out, print_json
from relayer.cli.attest import load_trust
from relayer.core.compliance import find_security, load_adapters, load_sanctions, to_security
from relayer.core.config import Config, load_config
from relayer.core.constants import ZERO_ADDRESS
from relayer.core.errors import ConfigError

config_option = click.option("--config", "config_file", type=click.Path(path_type=Path), required=True)


@click.group("recognition")
def recognition_group() -> None:
    """Recognition records for foreign regulators, and dry-run transfer decisions."""


def _domain(config: Config) -> Domain:
    escrow = config.registry.contracts.get("escrow")
    if escrow is None:
        raise ConfigError("registry.contracts.escrow", ["needed: recognition records are bound to the escrow"])
    return Domain(config.registry.chain_id, escrow)


def _records(config: Config, security: str | None, jurisdiction: str | None, now: int) -> list[Any]:
    try:
        adapters = load_adapters(config)
        securities = [find_security(config, security)] if security else config.securities
        codes = [jurisdiction] if jurisdiction else sorted(adapters.adapters)
        unknown = [c for c in codes if c not in adapters.adapters]
        if unknown:
            raise ConfigError("--jurisdiction", [f"no adapter for {unknown}; known: {sorted(adapters.adapters)}"])
        days = config.adapters.recognition_validity_days
        return [recognize(to_security(s), code, adapters, now, days) for s in securities for code in codes]
    except AdapterError as exc:
        raise ConfigError("adapters", [str(exc)]) from exc


def _verdict(decision: Any) -> str:
    return f"{decision.verdict.value} {','.join(decision.reasons)}"


@recognition_group.command("list")
@config_option
@click.option("--security", help="Security id, ISIN or registry token (default: all).")
@click.option("--jurisdiction", help="Jurisdiction code, e.g. US (default: all).")
@json_option
@fails_cleanly
def recognition_list(config_file: Path, security: str | None, jurisdiction: str | None, as_json: bool) -> None:
    """Status of every security in every jurisdiction, as the adapters decide now."""
    config = load_config(config_file)
    found = _records(config, security, jurisdiction, int(time.time()))
    if as_json:
        print_json({"records": [r.record.to_message() for r in found]})
        return
    table = Table()
    for column in ("ISIN", "jurisdiction", "status", "rule pack", "qualified", "retail"):
        table.add_column(column)
    for r in found:
        table.add_row(
            r.record.isin, r.record.jurisdiction, r.record.status, r.record.rule_pack_id,
            _verdict(r.qualified), _verdict(r.retail),
        )  # fmt: skip
    out.print(table)


@recognition_group.command("show")
@config_option
@click.option("--security", required=True, help="Security id, ISIN or registry token.")
@click.option("--jurisdiction", required=True, help="Jurisdiction code, e.g. US.")
@click.option("--sign", "key_files", multiple=True, type=click.Path(path_type=Path), help="Attestor key file (repeat).")
@fails_cleanly
def recognition_show(config_file: Path, security: str, jurisdiction: str, key_files: tuple[Path, ...]) -> None:
    """The record as an attestation (signed with --sign attestor key files, else unsigned)."""
    config = load_config(config_file)
    [found] = _records(config, security, jurisdiction, int(time.time()))
    try:
        keys = [AttestorKey.load(path) for path in key_files]
    except AttestationError as exc:
        raise ConfigError("--sign", [str(exc)]) from exc
    click.echo(attest(found.record, _domain(config), keys).dumps())


@recognition_group.command("verify")
@click.argument("source")
@click.option("--trust", "trust_source", required=True, help="Trust list: a JSON file or a /v1/attestors URL.")
@json_option
def recognition_verify(source: str, trust_source: str, as_json: bool) -> None:
    """Verify a RecognitionRecord attestation: exit 0 valid, 1 invalid, 2 unusable input."""
    trust = load_trust(trust_source)
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        err.print(f"error: cannot read {source}: {exc.strerror}", highlight=False)
        sys.exit(2)
    try:
        record = verify(Attestation.parse(text), trust, now=int(time.time()), kind=RecognitionRecord)
    except AttestationError as exc:
        if as_json:
            print_json({"valid": False, "error": type(exc).__name__, "reason": str(exc)})
        else:
            err.print(f"invalid: {type(exc).__name__}: {exc}", highlight=False)
        sys.exit(1)
    if as_json:
        print_json({"valid": True, "record": record.to_message()})
    else:
        out.print(f"valid: {record.isin} in {record.jurisdiction}: {record.status} (rule pack {record.rule_pack_id})")
        out.print(f"basis: {record.basis}", highlight=False)
        out.print(f"conditions: {record.conditions}", highlight=False)


def _holder(raw: Any) -> Holder:
    if not isinstance(raw, dict):
        raise ConfigError("--holder", ["a JSON object"])
    evidence = dict(raw.get("evidence", {}))
    for key in ("licences", "certifications"):
        if key in evidence:
            evidence[key] = frozenset(evidence[key])
    try:
        return Holder(
            holder_id=raw.get("holderId", "0x" + "00" * 32),
            wallet=raw.get("wallet", ZERO_ADDRESS),
            residency=raw["residency"],
            kind=HolderKind(raw.get("kind", "natural-person")),
            evidence=Evidence(**evidence),
            us_person=raw.get("usPerson", raw["residency"] == "US"),
            sanctions=Screening(raw.get("sanctions", "clear")),
        )
    except (KeyError, TypeError, ValueError, AdapterError) as exc:
        raise ConfigError("--holder", [f"{type(exc).__name__}: {exc}"]) from exc


@recognition_group.command("check")
@config_option
@click.option("--security", required=True, help="Security id, ISIN or registry token.")
@click.option(
    "--holder", "holder_file", required=True, type=click.Path(path_type=Path), help="Holder JSON file (- for stdin)."
)
@click.option("--amount", type=click.IntRange(1), default=1, show_default=True, help="Units to transfer.")
@click.option("--value", type=click.IntRange(0), help="Value of the transfer (with --currency).")
@click.option("--currency", help="ISO 4217 currency of --value.")
@click.option(
    "--holders", type=click.IntRange(0), default=0, help="Current holders resident in the holder's jurisdiction."
)
@click.option("--holders-total", type=click.IntRange(0), default=0, help="Current holders in total.")
@click.option("--purchases-12m", type=click.IntRange(0), help="The holder's purchases in 12 months (--currency).")
@json_option
@fails_cleanly
def recognition_check(
    config_file: Path, security: str, holder_file: Path, amount: int, value: int | None, currency: str | None,
    holders: int, holders_total: int, purchases_12m: int | None, as_json: bool,
) -> None:  # fmt: skip
    """Dry-run decision for one prospective holder, with reasons: exit 0 allowed, 1 denied or escalated."""
    config = load_config(config_file)
    try:
        raw = json.loads(sys.stdin.read() if str(holder_file) == "-" else holder_file.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError("--holder", [f"cannot read holder JSON: {exc}"]) from exc
    try:
        context = Context(
            now=int(time.time()), amount=amount, value=value, value_currency=currency,
            holders_in_jurisdiction=holders, holders_total=holders_total, purchases_12m=purchases_12m,
        )  # fmt: skip
        request = Request(to_security(find_security(config, security)), _holder(raw), context)
        decision = decide_transfer(request, load_adapters(config), load_sanctions(config))
    except AdapterError as exc:
        raise ConfigError("check", [str(exc)]) from exc
    if as_json:
        print_json(decision.to_json())
    else:
        out.print(f"{decision.verdict.value}: {', '.join(decision.reasons)}", highlight=False)
        for d in decision.decisions:
            out.print(
                f"  {d.jurisdiction} ({d.rule_pack_id}): {d.verdict.value} {', '.join(d.reasons)}", highlight=False
            )
            for citation in d.basis:
                out.print(f"    basis: {citation}", highlight=False)
        if not decision.conditions.empty:
            out.print(f"  conditions: {json.dumps(decision.conditions.to_json())}", highlight=False)
    sys.exit(0 if decision.verdict.allows else 1)
