"""The attestor: an independent signer that checks, through its own RPC connections, that a chain event
really happened and is final before it signs a statement about it (``dari attestor``). Deployable by
another institution on its own: it imports `attestations`, `adapters`, the relayer's pure core and the
shared chain-reading layer (`relayer.edges.evm`), never the relayer's pipeline, stores, database or API.

Modules: ``checks`` (per-kind checks against `ChainReads`), ``topology`` (the chains and contracts it
knows), ``reads`` (its chain reads, with its own errors), ``journal`` (what was signed, SQLite),
``requests`` (parsing sign requests), ``service`` (the `Attestor` and how it is built), ``http`` (the
aiohttp API). Errors: `attestor.errors`.
"""
