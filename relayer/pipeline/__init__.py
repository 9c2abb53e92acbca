"""The relay pipeline: one module per stage (intake, decide, attest, deliver, confirm, upkeep, and the
reconciliation run), each over the core's ports only, and the lanes that run them while this process
holds the leadership lease."""
