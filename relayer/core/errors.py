"""The relayer's exception hierarchy: one root, one subclass per failure a caller can act on.

Every error says what kind of failure it is (`Failure`), so whoever meets it (a lane, a stage, the RPC
transport's retry) decides the same way: `relayer.failures.classify` reads ``failure`` off our own errors
and knows the libraries' exceptions.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class Failure(StrEnum):
    """What a failure means for whoever meets it."""

    TRANSIENT = "transient"  # the network, a node or the database hiccuped: the same call may succeed later
    REFUSED = "refused"  # a contract, an attestor or our own rules said no to this: repeating will not help
    FATAL = "fatal"  # nothing may move until an operator looks (a deep reorg, a bad configuration, a bug)


class DariError(Exception):
    """Root of every error the relayer raises on purpose; refused unless a subclass says otherwise."""

    failure: ClassVar[Failure] = Failure.REFUSED


class UsageError(DariError):
    """The command cannot run as asked (exit code 2)."""

    failure = Failure.FATAL


class ConfigError(UsageError):
    """The configuration is unreadable or invalid; ``problems`` lists every ``key.path: reason``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class SecretError(DariError):
    """A secret named by the configuration (key file or environment variable) cannot be read."""

    failure = Failure.FATAL


class ArtifactsError(DariError):
    """Compiled contract artifacts are missing, stale or lack a contract."""

    failure = Failure.FATAL


class RpcUnavailable(DariError):
    """A JSON-RPC request failed in a way a later retry may cure: no connection, a timeout, an HTTP
    error status, an error answer (``code`` is its JSON-RPC error code) or a malformed answer."""

    failure = Failure.TRANSIENT

    def __init__(self, method: str, detail: str, code: int | None = None) -> None:
        self.method = method
        self.code = code
        super().__init__(f"{method}: {detail}")


class NotYetAttested(DariError):
    """Fewer than the threshold of valid attestor signatures for now, and the refusals do not rule the
    threshold out: ask again later."""

    failure = Failure.TRANSIENT


class AttestationRefused(DariError):
    """Attestors refused so that the others cannot reach the threshold; ``reasons`` maps each refusing
    attestor id to its reason."""

    def __init__(self, reasons: dict[str, str]) -> None:
        self.reasons = reasons
        super().__init__("refused: " + "; ".join(f"{k}: {v}" for k, v in sorted(reasons.items())))

    @property
    def reason(self) -> str:
        """The first refusal's reason (by attestor id)."""
        return self.reasons[min(self.reasons)] if self.reasons else "refused"


class DeliveryRefused(DariError):
    """The destination contract refuses the delivery (its simulation reverted) with custom error ``error``."""

    def __init__(self, error: str, detail: str) -> None:
        self.error = error
        super().__init__(detail)
