"""`dari log sth|prove|verify` through the real command line: tree heads and proofs from the configured
database verify offline (exit 0), tampering is invalid (exit 1), unusable input is a usage error (exit 2)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from attestations.keys import Ed25519Signer
from attestations.log import ConsistencyProof, InclusionProof, SignedTreeHead
from attestations.merkle import leaf_hash, mth
from relayer.core.config import DATABASE_URL_ENV
from relayer.edges.db import engine as db
from relayer.edges.db.log_store import SqlLogStorage
from tests.core.test_config import minimal
from tests.vectors import log_vectors
from tests.vectors.attestation_vectors import vector_trust

SEED = hashlib.sha256(b"test/cli-log-key").digest()
SIGNER = Ed25519Signer(SEED)
LOG_KEY = SIGNER.verifier.hex()


def digest(i: int) -> bytes:
    return hashlib.sha256(f"attestation-{i}".encode()).digest()


def dari(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != DATABASE_URL_ENV}
    return subprocess.run(
        [sys.executable, "-m", "relayer", *map(str, args)], capture_output=True, text=True, env=env, timeout=60
    )


def dari_all(*calls: list[str | Path]) -> list[subprocess.CompletedProcess[str]]:
    """Independent invocations, run side by side."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda args: dari(*args), calls))


def append(url: str, entries: list[bytes]) -> None:
    async def run() -> None:
        engine = db.create_engine(url)
        try:
            await db.upgrade(engine)
            await SqlLogStorage(engine).append(entries)
        finally:
            await engine.dispose()

    asyncio.run(run())


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path


def flip_first_hash(document: dict[str, Any], key: str) -> dict[str, Any]:
    path = list(document[key])
    path[0] = path[0][:-1] + ("0" if path[0][-1] != "0" else "1")
    return {**document, key: path}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, str]:
    """A config with a SQLite database and the log key in a key file."""
    (tmp_path / "log.key").write_text("0x" + SEED.hex() + "\n")
    url = f"sqlite:///{tmp_path / 'dari.db'}"
    raw = {**minimal(), "database": {"url": url}, "transparency": {"signer": {"key_file": "log.key"}}}
    config = tmp_path / "dari.toml"
    config.write_text(tomli_w.dumps(raw))
    return config, url


def test_sth_prove_verify(setup: tuple[Path, str], tmp_path: Path) -> None:
    config, url = setup
    append(url, [digest(i) for i in range(4)])
    first = dari("log", "sth", "--config", config, "--json")
    assert first.returncode == 0, first.stderr
    old = SignedTreeHead.from_json(first.stdout)
    old.verify(SIGNER.verifier)
    assert old.tree_size == 4 and old.root_hash == mth([leaf_hash(digest(i)) for i in range(4)])

    append(url, [digest(i) for i in range(10)])  # 0..3 are already logged
    human = dari("log", "sth", "--config", config)
    assert human.returncode == 0 and "tree_size 10 root_hash 0x" in human.stdout
    new_run = dari("log", "sth", "--config", config, "--json")
    new = SignedTreeHead.from_json(new_run.stdout)
    assert new.tree_size == 10

    inclusion_run = dari("log", "prove", "--config", config, "--digest", "0x" + digest(7).hex(), "--tree-size", "10")
    assert inclusion_run.returncode == 0, inclusion_run.stderr
    inclusion = json.loads(inclusion_run.stdout)
    assert set(inclusion) == {"leaf_index", "tree_size", "inclusion_path"} and inclusion["leaf_index"] == 7
    InclusionProof.from_json(inclusion).verify(digest(7), new)
    consistency_run = dari("log", "prove", "--config", config, "--first", "4", "--second", "10")
    assert consistency_run.returncode == 0, consistency_run.stderr
    consistency = json.loads(consistency_run.stdout)
    assert set(consistency) == {"first", "second", "consistency_path"}
    ConsistencyProof.from_json(consistency).verify(old, new)

    files = {
        "sth": write_json(tmp_path / "sth.json", new.to_json()),
        "old": write_json(tmp_path / "old.json", old.to_json()),
        "inclusion": write_json(tmp_path / "inclusion.json", inclusion),
        "consistency": write_json(tmp_path / "consistency.json", consistency),
        "trust": write_json(tmp_path / "trust.json", {**vector_trust().to_json(), "log": {"ed25519": LOG_KEY}}),
    }
    checks: list[str | Path] = ["--digest", "0x" + digest(7).hex(), "--inclusion", files["inclusion"]]
    checks += ["--old-sth", files["old"], "--consistency", files["consistency"]]
    bad_inclusion = write_json(tmp_path / "bad-inclusion.json", flip_first_hash(inclusion, "inclusion_path"))
    bad_consistency = write_json(tmp_path / "bad-cons.json", flip_first_hash(consistency, "consistency_path"))
    forged = write_json(tmp_path / "forged.json", {**new.to_json(), "tree_size": 11})
    other_key = Ed25519Signer(hashlib.sha256(b"other").digest()).verifier.hex()
    verify: list[str | Path] = ["log", "verify", "--sth", files["sth"]]
    valid, by_trust, old_alone, tampered_inclusion, tampered_consistency, wrong_digest, wrong_key, forged_head = (
        dari_all(
            [*verify, "--log-key", LOG_KEY, *checks],
            [*verify, "--trust", files["trust"], *checks],
            ["log", "verify", "--sth", files["old"], "--log-key", LOG_KEY],
            [*verify, "--log-key", LOG_KEY, "--digest", "0x" + digest(7).hex(), "--inclusion", bad_inclusion],
            [*verify, "--log-key", LOG_KEY, "--old-sth", files["old"], "--consistency", bad_consistency],
            [*verify, "--log-key", LOG_KEY, "--digest", "0x" + digest(8).hex(), "--inclusion", files["inclusion"]],
            [*verify, "--log-key", other_key],
            ["log", "verify", "--sth", forged, "--log-key", LOG_KEY],
        )
    )
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout.startswith("valid: tree head 10 signed by the log")
    assert by_trust.returncode == 0 and old_alone.returncode == 0
    assert tampered_inclusion.returncode == 1 and "invalid: ProofError" in tampered_inclusion.stderr
    assert tampered_consistency.returncode == 1 and "consistency path" in tampered_consistency.stderr
    assert wrong_digest.returncode == 1 and "inclusion path" in wrong_digest.stderr
    assert wrong_key.returncode == 1 and "signature" in wrong_key.stderr
    assert forged_head.returncode == 1 and "signature" in forged_head.stderr


def test_golden_vectors_verify_with_the_cli() -> None:
    directory = log_vectors.DIRECTORY
    result = dari(
        "log", "verify", "--sth", directory / "sth-7.json", "--trust", directory / "trust.json",
        "--digest", "0x" + log_vectors.ENTRIES[2].hex(), "--inclusion", directory / "inclusion-2-7.json",
        "--old-sth", directory / "sth-3.json", "--consistency", directory / "consistency-3-7.json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_prove_refusals(setup: tuple[Path, str]) -> None:
    config, url = setup
    append(url, [digest(i) for i in range(3)])
    prove: list[str | Path] = ["log", "prove", "--config", config]
    unknown, beyond, too_big, neither, both, short = dari_all(
        [*prove, "--digest", "0x" + digest(99).hex()],
        [*prove, "--digest", "0x" + digest(1).hex(), "--tree-size", "1"],
        [*prove, "--first", "2", "--second", "4"],
        prove,
        [*prove, "--digest", "0x12", "--first", "1"],
        [*prove, "--digest", "0x12"],
    )
    assert unknown.returncode == 1 and "not in the log" in unknown.stderr
    assert beyond.returncode == 1 and too_big.returncode == 1
    assert neither.returncode == both.returncode == short.returncode == 2


def test_sth_needs_the_log_key(tmp_path: Path) -> None:
    raw = {**minimal(), "database": {"url": f"sqlite:///{tmp_path / 'dari.db'}"}}
    config = tmp_path / "dari.toml"
    config.write_text(tomli_w.dumps(raw))
    missing = dari("log", "sth", "--config", config)
    assert missing.returncode == 2 and "transparency.signer" in missing.stderr
    raw["transparency"] = {"signer": {"key_file": "absent.key"}}
    config.write_text(tomli_w.dumps(raw))
    assert dari("log", "sth", "--config", config).returncode == 2


def test_verify_usage_errors(tmp_path: Path) -> None:
    sth = log_vectors.DIRECTORY / "sth-7.json"
    no_log = write_json(tmp_path / "trust.json", {k: v for k, v in vector_trust().to_json().items() if k != "log"})
    not_json = tmp_path / "junk.json"
    not_json.write_text("{not json")
    cases: list[list[str | Path]] = [
        ["--sth", tmp_path / "absent.json", "--log-key", LOG_KEY],
        ["--sth", not_json, "--log-key", LOG_KEY],
        ["--sth", sth],  # no key
        ["--sth", sth, "--log-key", LOG_KEY, "--trust", no_log],  # two keys
        ["--sth", sth, "--trust", no_log],  # a trust list without log.ed25519
        ["--sth", sth, "--log-key", "0x1234"],
        ["--sth", sth, "--log-key", LOG_KEY, "--digest", "0x" + "00" * 32],  # --digest without --inclusion
        ["--sth", sth, "--log-key", LOG_KEY, "--old-sth", sth],  # --old-sth without --consistency
    ]
    for args, result in zip(cases, dari_all(*(["log", "verify", *args] for args in cases)), strict=True):
        assert result.returncode == 2, (args, result.stderr)
        assert "error" in result.stderr.lower() or "usage" in result.stderr.lower()
