"""`dari attest verify` through the real CLI: files, stdin, a trust-list URL, exit codes 0/1/2."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.vectors.attestation_vectors import path

VECTOR = json.loads(path("TransferAuthorization").read_text())


def dari(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relayer", *args], input=stdin, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    attestation, trust = tmp_path / "a.json", tmp_path / "trust.json"
    attestation.write_text(json.dumps(VECTOR["attestation"]))
    trust.write_text(json.dumps(VECTOR["trust"]))
    return attestation, trust


def test_valid_file_exits_0(files: tuple[Path, Path]) -> None:
    attestation, trust = files
    result = dari("attest", "verify", str(attestation), "--trust", str(trust))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("valid: TransferAuthorization " + VECTOR["attestation"]["digest"])
    assert "att-1, att-2" in result.stdout


def test_stdin_and_json(files: tuple[Path, Path]) -> None:
    _attestation, trust = files
    result = dari("attest", "verify", "-", "--trust", str(trust), "--json", stdin=json.dumps(VECTOR["attestation"]))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "valid": True,
        "kind": "TransferAuthorization",
        "digest": VECTOR["attestation"]["digest"],
        "signers": ["att-1", "att-2"],
        "epoch": 1,
    }


def test_invalid_exits_1_with_the_reason(files: tuple[Path, Path], tmp_path: Path) -> None:
    _attestation, trust = files
    tampered = json.loads(json.dumps(VECTOR["attestation"]))
    tampered["signatures"] = tampered["signatures"][:1]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(tampered))
    result = dari("attest", "verify", str(bad), "--trust", str(trust))
    assert result.returncode == 1
    assert "BelowThresholdError" in result.stderr
    result = dari("attest", "verify", str(bad), "--trust", str(trust), "--json")
    assert json.loads(result.stdout)["error"] == "BelowThresholdError"


def test_unusable_input_exits_2(files: tuple[Path, Path], tmp_path: Path) -> None:
    attestation, trust = files
    assert dari("attest", "verify", str(tmp_path / "missing.json"), "--trust", str(trust)).returncode == 2
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    result = dari("attest", "verify", str(attestation), "--trust", str(junk))
    assert result.returncode == 2
    assert "trust list" in result.stderr


@pytest.fixture
async def trust_url() -> AsyncIterator[str]:
    async def attestors(_request: web.Request) -> web.Response:
        return web.json_response(VECTOR["trust"])

    app = web.Application()
    app.router.add_get("/v1/attestors", attestors)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/v1/attestors"
    finally:
        await runner.cleanup()


async def test_trust_list_from_url(files: tuple[Path, Path], trust_url: str) -> None:
    attestation, _trust = files
    result = await asyncio.to_thread(dari, "attest", "verify", str(attestation), "--trust", trust_url)
    assert result.returncode == 0, result.stderr
    missing = await asyncio.to_thread(dari, "attest", "verify", str(attestation), "--trust", trust_url + "/nope")
    assert missing.returncode == 2
