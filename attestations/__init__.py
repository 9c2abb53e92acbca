"""Dari attestations: typed EIP-712 statements, signatures, trust lists and the transparency log.

Verifiers use this package on its own: it never imports ``relayer``.
"""
