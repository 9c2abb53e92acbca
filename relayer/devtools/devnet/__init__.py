"""Local three-chain devnet: anvil processes, deployment, seeding, manifest and config."""
