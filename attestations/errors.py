"""The attestations package's exception hierarchy: every failure is an `AttestationError`.

A verifier maps each subclass to a reason; none of them is ever raised for a valid attestation.
"""


class AttestationError(Exception):
    """Root of every error this package raises."""


class MalformedError(AttestationError):
    """Input is not a well-formed attestation, typed-data document, key, trust list or proof."""


class DigestMismatchError(MalformedError):
    """The stated digest is not the EIP-712 digest of the embedded typed data."""


class BadSignatureError(AttestationError):
    """A signature does not verify under the attestor's key."""


class UnknownAttestorError(AttestationError):
    """A signature names an attestor absent from the trust list."""


class DuplicateAttestorError(AttestationError):
    """One attestor signed more than once."""


class BelowThresholdError(AttestationError):
    """Fewer valid attestor signatures than the trust list's threshold."""


class ExpiredError(AttestationError):
    """The statement's validity window has ended (or not begun) at the verification time."""


class WrongDomainError(AttestationError):
    """The EIP-712 domain is not the one expected (name, version, chain id or verifying contract)."""


class ProofError(AttestationError):
    """A transparency-log proof or signed tree head does not verify."""
