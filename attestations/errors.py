"""The attestations package's exception hierarchy: every failure is an `AttestationError`."""


class AttestationError(Exception):
    """Root of every error this package raises."""


class MalformedError(AttestationError):
    """Input is not a well-formed attestation, typed-data document, key or proof."""
