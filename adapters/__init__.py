"""Dari jurisdiction adapters: rule packs deciding whether a holder may receive a security.

Regulators and integrators use this package on its own: it never imports ``relayer``.
"""
