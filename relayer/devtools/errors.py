"""The developer tools' errors."""

from __future__ import annotations

from relayer.core.errors import DariError, UsageError


class DevnetError(DariError):
    """The devnet cannot be started or stopped as asked."""


class DevnetRunning(DevnetError, UsageError):
    """A devnet started from the same directory is still running (exit code 2)."""
