"""Typed configuration, loaded once from TOML; secrets are named (key file or env var), never held."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from relayer.core.errors import ConfigError, SecretError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///.dari/dari.db"
DATABASE_URL_ENV = "DARI_DATABASE_URL"

Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
ChainId = Annotated[int, Field(gt=0, lt=2**64)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Model):
    """Where a secret lives: a file (path relative to the config file) or an environment variable."""

    key_file: Path | None = None
    key_env: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.key_file is None) == (self.key_env is None):
            raise ValueError("give exactly one of key_file or key_env")
        return self

    def read(self) -> str:
        """The secret's text, stripped; raises `SecretError` naming the source, never the value."""
        if self.key_env is not None:
            value = os.environ.get(self.key_env)
            if not value:
                raise SecretError(f"environment variable {self.key_env} is not set")
            return value.strip()
        if self.key_file is None:
            raise SecretError("secret has neither key_file nor key_env")
        try:
            return self.key_file.read_text().strip()
        except OSError as exc:
            raise SecretError(f"cannot read key file {self.key_file}: {exc.strerror}") from exc


class DatabaseConfig(_Model):
    """``url``: SQLAlchemy URL; ``sqlite:///`` and ``postgresql://`` get their async drivers."""

    url: str = DEFAULT_DATABASE_URL


class ChainConfig(_Model):
    """One EVM chain the relayer reads from or writes to."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
    chain_id: ChainId
    rpc_url: Annotated[str, Field(pattern=r"^(http|https|ws|wss)://\S+$")]
    confirmations: Annotated[int, Field(ge=0, le=10_000)]
    poll_interval: Annotated[float, Field(gt=0, le=60)] = 1.0
    contracts: dict[str, Address] = Field(default_factory=dict)


class RelayerConfig(_Model):
    """The relayer's own transaction key and delivery settings."""

    signer: SecretRef
    batch_size: Annotated[int, Field(ge=1, le=500)] = 50  # mints per mintBatch transaction
    max_gas_price_gwei: Annotated[float, Field(gt=0)] = 500.0  # never pay more per gas
    stuck_after: Annotated[float, Field(gt=0)] = 30.0  # seconds before a pending transaction is replaced
    max_attempts: Annotated[int, Field(ge=1)] = 20  # delivery attempts before a transfer stalls
    lease_seconds: Annotated[float, Field(gt=1, le=600)] = 10.0  # leadership lease per chain (HA)
    sla_seconds: Annotated[float, Field(gt=0)] = 900.0  # alert on operations not final after this long


class AttestorConfig(_Model):
    """One attestor: public identity (for the trust list), where it listens, and, on its own machine,
    its key file and signing journal."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    ed25519: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
    address: Address
    key: SecretRef | None = None  # JSON {"id", "ed25519", "secp256k1"}: only where this attestor runs
    journal: Path | None = None  # SQLite file of what it signed (default: attestor-<id>.db beside the config)
    rpc: dict[str, str] = Field(default_factory=dict)  # chain id -> its own RPC URL (default: the chain's)


class TrustConfig(_Model):
    """The attestor committee's current epoch and threshold (as installed in the AttestorSets)."""

    epoch: Annotated[int, Field(ge=1)] = 1
    threshold: Annotated[int, Field(ge=1)] = 2


class SignerConfig(_Model):
    """A signer other than an attestor: its id and public keys (a trust list of one), and, on the signer's own
    machine only, where its key is (JSON {"id", "ed25519", "secp256k1"}, as an attestor's)."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    ed25519: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
    address: Address
    key: SecretRef | None = None


class KycConfig(_Model):
    """Where holder KYC evidence comes from: the KYC providers' signed claims (a JSON list of `KycClaim`
    attestations, each signed by one of the configured ``claim_issuers``; the registry anchors the current one)."""

    claims_file: Path | None = None


class ApiConfig(_Model):
    """The HTTP API served by ``dari relay``; ``token`` guards every state-changing route."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    token: SecretRef | None = None


class AdaptersConfig(_Model):
    """Jurisdiction adapters: rule-pack directory, plug-in allowlist, sanctions list, record validity."""

    rules_dir: Path | None = None  # default: the shipped config/jurisdictions
    plugins: list[str] = Field(default_factory=list)  # entry points of group dari.adapters to load
    sanctions_list: Path | None = None
    recognition_validity_days: Annotated[int, Field(gt=0, le=3660)] = 90


class SecurityConfig(_Model):
    """A bridged security and the facts its compliance depends on."""

    id: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
    isin: Annotated[str, Field(pattern=r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")]
    name: str
    asset_class: Literal[
        "equity", "debt", "fund-unit", "real-estate-trust", "investment-contract", "structured-product"
    ]
    flags: list[
        Literal["public-offer", "institutional-only", "hk-authorised-offer", "collective-investment-scheme"]
    ] = Field(default_factory=list)
    issuer_country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "KR"
    issuer_sec_reporting: bool = False
    registry_token: Address | None = None


class TransparencyConfig(_Model):
    """The transparency log's ed25519 signing key (0x-hex 32-byte seed), which signs tree heads."""

    signer: SecretRef


class ReconciliationConfig(_Model):
    """`dari reconcile`: pause inbound minting on every public gateway when a security is imbalanced, and
    the seconds between reconciliations of a daemon that runs them periodically."""

    pause_on_drift: bool = False
    interval: Annotated[float, Field(gt=0)] = 60.0


class LogConfig(_Model):
    """Structured logging: human-readable console lines or one JSON object per line."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["console", "json"] = "console"


class Config(_Model):
    """The whole configuration of a relayer or attestor process."""

    database: DatabaseConfig = DatabaseConfig()
    registry: ChainConfig
    public: Annotated[list[ChainConfig], Field(min_length=1)]
    relayer: RelayerConfig | None = None
    api: ApiConfig = ApiConfig()
    transparency: TransparencyConfig | None = None
    adapters: AdaptersConfig = AdaptersConfig()
    trust: TrustConfig = TrustConfig()
    attestors: list[AttestorConfig] = Field(default_factory=list)
    claim_issuers: list[SignerConfig] = Field(default_factory=list)  # KYC providers whose claims count
    officers: list[SignerConfig] = Field(default_factory=list)  # compliance officers who decide held items
    kyc: KycConfig = KycConfig()
    securities: list[SecurityConfig] = Field(default_factory=list)
    reconciliation: ReconciliationConfig = ReconciliationConfig()
    logging: LogConfig = LogConfig()

    @model_validator(mode="after")
    def _attestors_fit_the_threshold(self) -> Config:
        if self.attestors and self.trust.threshold > len(self.attestors):
            raise ValueError(f"trust.threshold {self.trust.threshold} exceeds the {len(self.attestors)} attestors")
        if len({a.id for a in self.attestors}) != len(self.attestors):
            raise ValueError("attestor ids must be distinct")
        for name, signers in (("claim_issuers", self.claim_issuers), ("officers", self.officers)):
            if len({s.id for s in signers}) != len(signers):
                raise ValueError(f"{name} ids must be distinct")
        return self

    @model_validator(mode="after")
    def _distinct_chains(self) -> Config:
        chains = [self.registry, *self.public]
        ids = [c.chain_id for c in chains]
        names = [c.name for c in chains]
        if len(set(ids)) != len(ids):
            raise ValueError(f"chain ids must be distinct, got {ids}")
        if len(set(names)) != len(names):
            raise ValueError(f"chain names must be distinct, got {names}")
        return self

    def chain(self, chain_id: int) -> ChainConfig:
        """The configured chain with ``chain_id``; `KeyError` when there is none."""
        for chain in (self.registry, *self.public):
            if chain.chain_id == chain_id:
                return chain
        raise KeyError(chain_id)


def _key_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        else:
            parts.append(item)
    return ".".join(parts) or "(root)"


_PATH_KEYS = ("key_file", "rules_dir", "sanctions_list", "journal", "claims_file")


def _resolve_key_files(raw: object, base: Path) -> object:
    """Makes every relative file path (key files, rule packs, sanctions list) relative to the config file."""
    if isinstance(raw, dict):
        out = {k: _resolve_key_files(v, base) for k, v in raw.items()}
        for key in _PATH_KEYS:
            value = out.get(key)
            if isinstance(value, str) and not Path(value).is_absolute():
                out[key] = str(base / value)
        return out
    if isinstance(raw, list):
        return [_resolve_key_files(v, base) for v in raw]
    return raw


def parse_config(raw: dict[str, object], source: str = "<config>", base: Path | None = None) -> Config:
    """Validates a parsed TOML document; raises `ConfigError` listing every problem with its key path."""
    data = _resolve_key_files(raw, base) if base is not None else raw
    env_url = os.environ.get(DATABASE_URL_ENV)
    if env_url and isinstance(data, dict):
        database = data.get("database")
        data = {**data, "database": {**(database if isinstance(database, dict) else {}), "url": env_url}}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_key_path(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(source, problems) from None


def load_config(path: Path) -> Config:
    """Reads and validates the TOML file at ``path``."""
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from exc
    return parse_config(raw, str(path), path.resolve().parent)
