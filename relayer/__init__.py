"""Dari relayer: watches the registry and public chains, decides, gathers attestations and delivers."""
