"""EVM chains over JSON-RPC: the client (one transport, one retry policy), the ABI codec, compiled
artifacts and deployment, log decoding, raw chain reads, typed contract views, the reconciliation facts.
The shared chain-reading layer: the attestor uses it too, so it never imports the relayer's stores,
pipeline or API."""
