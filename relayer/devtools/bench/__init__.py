"""`dari bench` (SPEC section 10): end-to-end relay throughput and latency on a devnet with PostgreSQL,
the same mints sent by a minimal loop with no relayer, and ed25519 rates against raw PyNaCl."""
