"""The edges: the core's ports implemented over the world (JSON-RPC chains, SQL databases, HTTP). An
edge never calls up into the pipeline; the composition roots (`relayer.relay`, the CLI) wire it in."""
