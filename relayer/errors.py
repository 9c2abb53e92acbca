"""The relayer's exception hierarchy: one root, one subclass per failure a caller can act on."""


class DariError(Exception):
    """Root of every error the relayer raises on purpose."""


class ConfigError(DariError):
    """The configuration is unreadable or invalid; ``problems`` lists every ``key.path: reason``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class SecretError(DariError):
    """A secret named by the configuration (key file or environment variable) cannot be read."""


class ArtifactsError(DariError):
    """Compiled contract artifacts are missing, stale or lack a contract."""


class DevnetError(DariError):
    """The devnet cannot be started or stopped as asked."""


class DevnetRunning(DevnetError):
    """A devnet started from the same directory is still running."""
