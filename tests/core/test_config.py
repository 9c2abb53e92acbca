"""Configuration: the documented example loads, every error is reported with its key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from relayer.core.config import DEFAULT_DATABASE_URL, load_config, parse_config
from relayer.core.errors import ConfigError, SecretError

EXAMPLE = Path(__file__).parents[2] / "config" / "example.toml"


def minimal() -> dict[str, object]:
    return {
        "registry": {"name": "registry", "chain_id": 820001, "rpc_url": "http://127.0.0.1:1", "confirmations": 0},
        "public": [{"name": "ethereum", "chain_id": 31337, "rpc_url": "http://127.0.0.1:2", "confirmations": 2}],
    }


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert config.registry.chain_id == 820001
    assert config.public[0].name == "ethereum"
    assert config.relayer is not None and config.relayer.signer.key_env == "DARI_RELAYER_KEY"
    assert config.api.token is not None and config.api.token.key_file == EXAMPLE.parent / "keys" / "api.token"


def test_defaults() -> None:
    config = parse_config(minimal())
    assert config.database.url == DEFAULT_DATABASE_URL
    assert config.api.port == 8080
    assert config.logging.level == "info"


def test_every_problem_is_reported_with_its_key_path() -> None:
    raw = minimal()
    raw["registry"] = {**raw["registry"], "chain_id": -1, "rpc_url": "ftp://x"}  # type: ignore[dict-item]
    raw["public"] = [{**raw["public"][0], "confirmations": "many", "contracts": {"gateway": "0x12"}}]  # type: ignore[index]
    raw["api"] = {"port": 70000, "tokn": {}}
    with pytest.raises(ConfigError) as info:
        parse_config(raw, "test.toml")
    paths = {p.split(":")[0] for p in info.value.problems}
    assert paths == {
        "registry.chain_id",
        "registry.rpc_url",
        "public[0].confirmations",
        "public[0].contracts.gateway",
        "api.port",
        "api.tokn",
    }
    assert str(info.value).startswith("test.toml: ")


def test_missing_sections_are_named() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({})
    assert sorted(p.split(":")[0] for p in info.value.problems) == ["public", "registry"]


def test_duplicate_chain_ids_rejected() -> None:
    raw = minimal()
    raw["public"][0]["chain_id"] = 820001  # type: ignore[index]
    with pytest.raises(ConfigError, match="chain ids must be distinct"):
        parse_config(raw)


def test_secret_needs_exactly_one_source() -> None:
    raw = minimal()
    raw["relayer"] = {"signer": {"key_file": "a", "key_env": "B"}}
    with pytest.raises(ConfigError, match=r"relayer\.signer: .*exactly one"):
        parse_config(raw)


def test_secrets_are_read_from_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "relayer.key").write_text("0xabc\n")
    raw = minimal()
    raw["relayer"] = {"signer": {"key_file": "relayer.key"}}
    raw["api"] = {"token": {"key_env": "DARI_TEST_TOKEN"}}
    config_file = tmp_path / "dari.toml"
    import tomli_w

    config_file.write_text(tomli_w.dumps(raw))
    config = load_config(config_file)
    assert config.relayer is not None and config.relayer.signer.read() == "0xabc"
    assert config.api.token is not None
    with pytest.raises(SecretError, match="DARI_TEST_TOKEN is not set"):
        config.api.token.read()
    monkeypatch.setenv("DARI_TEST_TOKEN", "s3cret")
    assert config.api.token.read() == "s3cret"
    (tmp_path / "relayer.key").unlink()
    with pytest.raises(SecretError, match="cannot read key file") as info:
        config.relayer.signer.read()
    assert "0xabc" not in str(info.value)


def test_database_url_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DARI_DATABASE_URL", "postgresql://dari@db/dari")
    assert parse_config(minimal()).database.url == "postgresql://dari@db/dari"


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[registry\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
