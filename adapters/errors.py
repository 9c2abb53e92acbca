"""The adapters package's exception hierarchy: every failure is an `AdapterError`."""


class AdapterError(Exception):
    """Root of every error this package raises."""


class InvalidInputError(AdapterError):
    """A security, holder or context is malformed (wrong type, out of range, unknown code)."""


class RulePackError(AdapterError):
    """A rule pack is missing, unreadable or invalid, or lacks a rule an adapter needs."""


class AdapterLoadError(AdapterError):
    """A plug-in adapter named in the allowlist could not be loaded (fatal at start-up)."""


class SanctionsListError(AdapterError):
    """The sanctions list file is missing or malformed."""
