"""`dari log sth|prove|verify`: the transparency log's tree heads and proofs (JSON of SPEC section 5).

``verify`` needs no database: exit 0 valid; 1 invalid, with the reason on stderr (a signature or proof that
does not verify, or JSON that is not a tree head or proof); 2 usage, or a file that is unreadable or not JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from attestations.errors import AttestationError
from attestations.keys import Ed25519Signer, Ed25519Verifier, parse_hex
from attestations.log import ConsistencyProof, InclusionProof, SignedTreeHead, TransparencyLog
from attestations.trust import TrustList
from relayer.cli import err, fails_cleanly, json_option, out, print_json
from relayer.core.config import Config, load_config
from relayer.core.errors import ConfigError, SecretError

T = TypeVar("T")

config_option = click.option("--config", "config_file", type=click.Path(path_type=Path), required=True)


@click.group("log")
def log_group() -> None:
    """The transparency log: signed tree heads, inclusion and consistency proofs."""


def _invalid(reason: str) -> NoReturn:
    err.print(f"invalid: {reason}", highlight=False)
    sys.exit(1)


def _unusable(reason: str) -> NoReturn:
    err.print(f"error: {reason}", highlight=False)
    sys.exit(2)


def _with_log(config: Config, action: Callable[[TransparencyLog], Awaitable[T]]) -> T:
    """Runs ``action`` on the configured database's log (migrated, loaded); a refused proof exits 1."""
    from relayer.edges.db import engine as db
    from relayer.edges.db.log_store import SqlLogStorage

    async def run() -> T:
        engine = db.create_engine(config.database.url)
        try:
            await db.upgrade(engine)
            log = TransparencyLog(SqlLogStorage(engine))
            await log.load()
            return await action(log)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except AttestationError as exc:
        err.print(f"error: {exc}", highlight=False)
        sys.exit(1)


def _log_signer(config_file: Path, config: Config) -> Ed25519Signer:
    if config.transparency is None:
        raise ConfigError(str(config_file), ["transparency.signer: required to sign tree heads"])
    try:
        return Ed25519Signer.from_hex(config.transparency.signer.read())
    except (SecretError, AttestationError) as exc:
        raise ConfigError(str(config_file), [f"transparency.signer: {exc}"]) from None


@log_group.command("sth")
@config_option
@json_option
@fails_cleanly
def log_sth(config_file: Path, as_json: bool) -> None:
    """Sign a tree head for the log's current size, now."""
    config = load_config(config_file)
    signer = _log_signer(config_file, config)

    async def sign(log: TransparencyLog) -> SignedTreeHead:
        return log.tree_head(signer, int(time.time() * 1000))

    head = _with_log(config, sign)
    if as_json:
        print_json(head.to_json())
        return
    at = datetime.fromtimestamp(head.timestamp / 1000, UTC).isoformat(timespec="milliseconds")
    out.print(f"tree_size {head.tree_size} root_hash 0x{head.root_hash.hex()} at {at}", highlight=False)


@log_group.command("prove")
@config_option
@click.option("--digest", help="Inclusion: the 0x-hex 32-byte entry (attestation digest).")
@click.option("--tree-size", type=click.IntRange(min=0), help="Inclusion: the tree size (default: current).")
@click.option("--first", type=click.IntRange(min=1), help="Consistency: the older tree size.")
@click.option("--second", type=click.IntRange(min=1), help="Consistency: the newer tree size (default: current).")
@fails_cleanly
def log_prove(
    config_file: Path, digest: str | None, tree_size: int | None, first: int | None, second: int | None
) -> None:
    """Print an inclusion proof (--digest) or a consistency proof (--first/--second) as JSON."""
    if (digest is None) == (first is None):
        raise click.UsageError("give either --digest (inclusion) or --first (consistency)")
    if digest is None and tree_size is not None:
        raise click.UsageError("--tree-size goes with --digest")
    if digest is not None and second is not None:
        raise click.UsageError("--second goes with --first")
    entry = None
    if digest is not None:
        try:
            entry = parse_hex(digest, 32, "--digest")
        except AttestationError as exc:
            raise click.BadParameter(str(exc)) from None
    config = load_config(config_file)

    async def prove(log: TransparencyLog) -> InclusionProof | ConsistencyProof:
        if entry is not None:
            return await log.prove_inclusion(entry, tree_size)
        return log.prove_consistency(first or 0, second)

    print_json(_with_log(config, prove).to_json())


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        _unusable(f"cannot read {what} {path}: {exc.strerror}")
    except (ValueError, RecursionError) as exc:
        _unusable(f"{what} {path} is not JSON: {exc}")


def _log_key(log_key: str | None, trust: Path | None) -> Ed25519Verifier:
    """The log key from --log-key, or from a trust list's ``log.ed25519``; exits 2 when unusable."""
    if log_key is not None and trust is not None:
        _unusable("give --log-key or --trust, not both")
    if log_key is None:
        if trust is None:
            _unusable("give --log-key or --trust")
        try:
            parsed = TrustList.parse(_read_json(trust, "trust list"))
        except AttestationError as exc:
            _unusable(f"trust list {trust} is invalid: {exc}")
        if parsed.log_key is None:
            _unusable(f"trust list {trust} names no log key (log.ed25519)")
        return parsed.log_key
    try:
        return Ed25519Verifier.from_hex(log_key)
    except AttestationError as exc:
        _unusable(f"log key: {exc}")


@log_group.command("verify")
@click.option("--sth", "sth_file", type=click.Path(path_type=Path), required=True, help="The tree head (JSON).")
@click.option("--log-key", help="The log's ed25519 public key (0x-hex).")
@click.option("--trust", type=click.Path(path_type=Path), help="A trust list (JSON) naming the log key.")
@click.option("--digest", help="With --inclusion: the 0x-hex entry that must be in the tree.")
@click.option("--inclusion", type=click.Path(path_type=Path), help="With --digest: its inclusion proof (JSON).")
@click.option("--old-sth", type=click.Path(path_type=Path), help="With --consistency: an older tree head (JSON).")
@click.option("--consistency", type=click.Path(path_type=Path), help="With --old-sth: the proof (JSON).")
def log_verify(
    sth_file: Path,
    log_key: str | None,
    trust: Path | None,
    digest: str | None,
    inclusion: Path | None,
    old_sth: Path | None,
    consistency: Path | None,
) -> None:
    """Verify a tree head's signature, then an entry's inclusion and/or consistency with an older head."""
    if (digest is None) != (inclusion is None):
        _unusable("--digest and --inclusion go together")
    if (old_sth is None) != (consistency is None):
        _unusable("--old-sth and --consistency go together")
    verifier = _log_key(log_key, trust)
    entry = None
    if digest is not None:
        try:
            entry = parse_hex(digest, 32, "--digest")
        except AttestationError as exc:
            _unusable(str(exc))
    head_document = _read_json(sth_file, "tree head")
    inclusion_document = None if inclusion is None else _read_json(inclusion, "inclusion proof")
    old_document = None if old_sth is None else _read_json(old_sth, "older tree head")
    consistency_document = None if consistency is None else _read_json(consistency, "consistency proof")

    checked: list[str] = []
    try:
        head = SignedTreeHead.from_json(head_document)
        head.verify(verifier)
        checked.append(f"tree head {head.tree_size} signed by the log")
        if entry is not None:
            InclusionProof.from_json(inclusion_document).verify(entry, head)
            checked.append(f"0x{entry.hex()} included")
        if consistency_document is not None:
            old = SignedTreeHead.from_json(old_document)
            old.verify(verifier)
            ConsistencyProof.from_json(consistency_document).verify(old, head)
            checked.append(f"consistent with tree head {old.tree_size}")
    except AttestationError as exc:
        _invalid(f"{type(exc).__name__}: {exc}")
    out.print("valid: " + "; ".join(checked), highlight=False)
