"""`dari attest verify FILE|- --trust FILE|URL`: exit 0 valid, 1 invalid (with the reason), 2 unusable input."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp
import click

from attestations.attestation import Attestation
from attestations.errors import AttestationError
from attestations.trust import TrustList
from attestations.verify import verify
from relayer.cli import err, json_option, out, print_json

TRUST_FETCH_TIMEOUT = 10.0


@click.group("attest")
def attest_group() -> None:
    """Attestations: verify them without trusting Dari."""


def _read_source(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    return Path(source).read_text()


async def _fetch(url: str) -> str:
    timeout = aiohttp.ClientTimeout(total=TRUST_FETCH_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        response.raise_for_status()
        return await response.text()


def load_trust(source: str) -> TrustList:
    """A trust list from a file or a gateway's ``/v1/attestors`` URL; exits 2 when unusable."""
    try:
        text = asyncio.run(_fetch(source)) if source.startswith(("http://", "https://")) else _read_source(source)
        return TrustList.parse(text)
    except (TimeoutError, OSError, aiohttp.ClientError) as exc:
        err.print(f"error: cannot read trust list {source}: {exc}", highlight=False)
    except AttestationError as exc:
        err.print(f"error: trust list {source} is invalid: {exc}", highlight=False)
    sys.exit(2)


@attest_group.command("verify")
@click.argument("source")
@click.option("--trust", "trust_source", required=True, help="Trust list: a JSON file or a /v1/attestors URL.")
@click.option("--now", type=int, default=None, help="Verification time (Unix seconds); default: now.")
@json_option
def attest_verify(source: str, trust_source: str, now: int | None, as_json: bool) -> None:
    """Verify the attestation in SOURCE (a file, or - for standard input)."""
    trust = load_trust(trust_source)
    try:
        document = _read_source(source)
    except OSError as exc:
        err.print(f"error: cannot read {source}: {exc.strerror}", highlight=False)
        sys.exit(2)
    at = int(time.time()) if now is None else now
    try:
        attestation = Attestation.parse(document)
        verify(attestation, trust, now=at)
    except AttestationError as exc:
        if as_json:
            print_json({"valid": False, "error": type(exc).__name__, "reason": str(exc)})
        else:
            err.print(f"invalid: {type(exc).__name__}: {exc}", highlight=False)
        sys.exit(1)
    signers = [s.attestor for s in attestation.signatures]
    if as_json:
        print_json(
            {
                "valid": True,
                "kind": attestation.kind,
                "digest": "0x" + attestation.digest.hex(),
                "signers": signers,
                "epoch": trust.epoch,
            }
        )
    else:
        out.print(
            f"valid: {attestation.kind} 0x{attestation.digest.hex()} signed by {', '.join(signers)} "
            f"(epoch {trust.epoch}, threshold {trust.threshold})",
            highlight=False,
        )
