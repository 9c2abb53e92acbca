"""The relayer's HTTP API (SPEC section 7) and its OpenAPI document."""
