"""Developer tools: the three-chain devnet, the benchmark and the demo story (`dari devnet|bench|demo`,
registered as plug-in commands). No production module imports them."""
