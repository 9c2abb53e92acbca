"""The attestor's errors: one root, `AttestorError`; each subclass maps to exactly one HTTP answer."""

from __future__ import annotations

from relayer.core.errors import DariError, Failure


class AttestorError(DariError):
    """Root of every error the attestor service raises on purpose (HTTP 503 unless a subclass says)."""


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

    failure = Failure.TRANSIENT

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")


class ChainUnavailable(AttestorError):
    """A chain read failed for a transient reason (timeout, connection, node error): retry (HTTP 503)."""

    failure = Failure.TRANSIENT
