"""The attestor: an independent signer that checks, through its own RPC connections, that a chain event
really happened and is final before it signs a statement about it (``dari attestor``), and the relayer's
client that gathers a threshold of such signatures.

Modules: ``checks`` (per-kind checks against a `ChainView`), ``journal`` (what was signed, SQLite),
``service`` (the aiohttp API and the RPC `ChainView`), ``client`` (`gather`).

Errors: one root, `AttestorError`; each subclass maps to exactly one HTTP answer (service side) or one
caller decision (client side).
"""

from __future__ import annotations

from relayer.errors import DariError


class AttestorError(DariError):
    """Root of every error the attestor service and its client raise on purpose."""


class BadRequest(AttestorError):
    """The sign request is not well formed (HTTP 400)."""


class Refused(AttestorError):
    """The statement contradicts the chain or the journal: permanent (HTTP 409). ``code`` is a stable
    reason code (``amount-mismatch``), ``detail`` says what was seen."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")


class NotFinal(AttestorError):
    """The event is not found yet or not final yet: ask again later (HTTP 425)."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")


class ChainUnavailable(AttestorError):
    """A chain read failed for a transient reason (timeout, connection, node error): retry (HTTP 503)."""


class NotYetAttested(AttestorError):
    """Client side: fewer than ``threshold`` valid signatures for now, and refusals do not rule the
    threshold out; retry later."""


class AttestationRefused(AttestorError):
    """Client side: attestors refused (409) so that the others cannot reach the threshold; ``reasons``
    maps each refusing attestor id to its reason."""

    def __init__(self, reasons: dict[str, str]) -> None:
        self.reasons = reasons
        super().__init__("refused: " + "; ".join(f"{k}: {v}" for k, v in sorted(reasons.items())))

    @property
    def reason(self) -> str:
        """The first refusal's reason (by attestor id)."""
        return self.reasons[min(self.reasons)] if self.reasons else "refused"
