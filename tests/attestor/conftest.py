"""The attestor tests' devnet with attestor processes of their own (one per test module)."""

from tests.support.attestors import env, registry

__all__ = ["env", "registry"]
