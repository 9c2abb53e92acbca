"""The OpenAPI 3.1 document of the relayer's HTTP API (served at /openapi.json; a test checks that it
matches the routes and is a valid OpenAPI document)."""

from __future__ import annotations

from typing import Any

from relayer.core.transfer_state import Kind, State

HEX32 = {"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$"}
INT63 = 2**63 - 1  # the largest integer query parameter (a signed 64-bit database column)
KINDS = [k.value for k in Kind]
STATES = [s.value for s in State]
# `Operation.to_json` (relayer/core/model.py): every field is always present; amounts are decimal strings;
# kycClaim and operatorDecision are the digests of the signed statements a decision rests on
OPERATION = {
    "id": "string", "kind": "string", "state": "string", "sourceChainId": "integer",
    "sourceNonce": ["integer", "null"], "destChainId": "integer", "securityId": ["string", "null"],
    "token": ["string", "null"], "sender": ["string", "null"], "recipient": ["string", "null"],
    "amount": ["string", "null"], "sourceTxHash": "string", "sourceBlock": "integer",
    "sourceLogIndex": "integer", "destTxHash": ["string", "null"],
    "reason": ["string", "null"], "reasonCode": ["integer", "null"], "lockedUntil": ["integer", "null"],
    "decision": ["object", "null"], "kycClaim": ["string", "null"], "operatorDecision": ["string", "null"],
    "attempts": "integer", "nextAttemptAt": ["string", "null"],
    "lastError": ["string", "null"], "createdAt": ["string", "null"], "updatedAt": ["string", "null"],
    "payload": "object",
}  # fmt: skip


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _json(_ref("Error"), "Bad input"),
    "404": _json(_ref("Error"), "Not found"),
}
AUTH_ERRORS = {
    "401": _json(_ref("Error"), "Missing or wrong bearer token"),
    "403": _json(_ref("Error"), "State-changing routes are disabled (no token configured)"),
}


def _query(name: str, schema: dict[str, Any], required: bool = False, description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def _path(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _get(
    summary: str, response: dict[str, Any], parameters: list[dict[str, Any]] | None = None, errors: bool = True
) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": parameters or [],
            "responses": {"200": response, **(ERRORS if errors else {})},
        }
    }


def document() -> dict[str, Any]:
    transfer_id = _path(
        "id", {"type": "string", "pattern": "^[a-z0-9-]{1,128}$"}, "<sourceChainId>-<nonce>, e.g. 820001-17"
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Dari relayer API",
            "version": "1",
            "description": "Read-only status, attestations, recognition records, reconciliation and the transparency "
            "log; bearer-token routes for operators.",
        },
        "paths": {
            "/healthz": _get("Liveness", _json({"type": "object"}), errors=False),
            "/metrics": _get(
                "Prometheus metrics",
                {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}},
                errors=False,
            ),
            "/openapi.json": _get("This document", _json({"type": "object"}), errors=False),
            "/v1/attestors": _get("The attestor trust list", _json(_ref("TrustList")), errors=False),
            "/v1/attestations/{digest}": _get(
                "One attestation", _json(_ref("Attestation")), [_path("digest", HEX32, "EIP-712 digest")]
            ),
            "/v1/transfers": _get(
                "Transfers and other operations, oldest first (paginated)",
                _json(_ref("TransferPage")),
                [
                    _query("state", {"type": "string", "enum": STATES}, description="Only this state"),
                    _query("kind", {"type": "string", "enum": KINDS}),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
                    _query("offset", {"type": "integer", "minimum": 0, "maximum": INT63, "default": 0}),
                ],
            ),
            "/v1/transfers/{id}": _get(
                "One transfer with its attestations and history", _json(_ref("Transfer")), [transfer_id]
            ),
            "/v1/transfers/{id}/retry": {
                "post": {
                    "summary": "Retry a held or stalled transfer now (held ones are decided again)",
                    "security": [{"bearer": []}],
                    "parameters": [transfer_id],
                    "responses": {
                        "200": _json(_ref("Operation")),
                        "409": _json(_ref("Error"), "Not applicable in the transfer's state"),
                        **ERRORS,
                        **AUTH_ERRORS,
                    },
                }
            },
            "/v1/transfers/{id}/{decision}": {
                "post": {
                    "summary": "Approve or reject a held transfer with a compliance officer's signed decision "
                    "(the signature authenticates it: no bearer token)",
                    "parameters": [
                        transfer_id,
                        _path("decision", {"type": "string", "enum": ["approve", "reject"]}),
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["decision"],
                                    "properties": {"decision": _ref("Attestation")},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(_ref("Operation")),
                        "409": _json(
                            _ref("Error"),
                            "Not applicable in the transfer's state, or the decision does not count for it",
                        ),
                        **ERRORS,
                    },
                }
            },
            "/v1/pause": {
                "post": {
                    "summary": "Pause or resume inbound (minting) or outbound (bridge-back) on the gateways",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("PauseRequest")}},
                    },
                    "responses": {
                        "200": _json({"type": "object"}),
                        "503": _json(_ref("Error"), "Pausing unavailable"),
                        **ERRORS,
                        **AUTH_ERRORS,
                    },
                }
            },
            "/v1/recognition": _get(
                "Recognition records (signed RecognitionRecord attestations)",
                _json(
                    {
                        "type": "object",
                        "required": ["records"],
                        "properties": {"records": {"type": "array", "items": _ref("Attestation")}},
                    }
                ),
                [
                    _query("jurisdiction", {"type": "string", "pattern": "^[A-Z]{2}$"}),
                    _query("security", {"type": "string"}, description="Security id or ISIN"),
                ],
            ),
            "/v1/reconciliation/latest": _get(
                "The latest signed reconciliation report per security",
                _json(
                    {
                        "type": "object",
                        "properties": {
                            "reports": {"type": "array", "items": _ref("Attestation")},
                            "balanced": {"type": "boolean"},
                        },
                    }
                ),
            ),
            "/v1/log/sth": {
                "get": {
                    "summary": "A signed tree head of the transparency log",
                    "parameters": [],
                    "responses": {
                        "200": _json(_ref("SignedTreeHead")),
                        "503": _json(_ref("Error"), "No transparency log key configured"),
                    },
                }
            },
            "/v1/log/proof/inclusion": _get(
                "Inclusion proof of an attestation digest",
                _json(_ref("InclusionProof")),
                [
                    _query("digest", HEX32, True),
                    _query("tree_size", {"type": "integer", "minimum": 1, "maximum": INT63}),
                ],
            ),
            "/v1/log/proof/consistency": _get(
                "Consistency proof between two tree sizes",
                _json(_ref("ConsistencyProof")),
                [
                    _query("first", {"type": "integer", "minimum": 1, "maximum": INT63}, True),
                    _query("second", {"type": "integer", "minimum": 1, "maximum": INT63}, True),
                ],
            ),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Attestation": {
                    "type": "object",
                    "required": ["kind", "typedData", "digest", "signatures"],
                    "properties": {
                        "kind": {"type": "string"},
                        "typedData": {"type": "object"},
                        "digest": HEX32,
                        "signatures": {"type": "array", "items": {"type": "object"}},
                        "log": {"type": "object", "properties": {"index": {"type": "integer"}}},
                    },
                },
                "TrustList": {
                    "type": "object",
                    "required": ["epoch", "threshold", "attestors"],
                    "properties": {
                        "epoch": {"type": "integer"},
                        "threshold": {"type": "integer"},
                        "attestors": {"type": "array", "items": {"type": "object"}},
                        "log": {"type": "object"},
                    },
                },
                "Operation": {
                    "type": "object",
                    "required": list(OPERATION),
                    "properties": {name: {"type": kind} for name, kind in OPERATION.items()}
                    | {"kind": {"type": "string", "enum": KINDS}, "state": {"type": "string", "enum": STATES}},
                },
                "Transfer": {
                    "allOf": [
                        _ref("Operation"),
                        {
                            "type": "object",
                            "required": ["attestations", "history"],
                            "properties": {
                                "attestations": {"type": "array", "items": HEX32},
                                "history": {"type": "array", "items": {"type": "object"}},
                            },
                        },
                    ]
                },
                "TransferPage": {
                    "type": "object",
                    "required": ["transfers", "limit", "offset", "next"],
                    "properties": {
                        "transfers": {"type": "array", "items": _ref("Operation")},
                        "limit": {"type": "integer"},
                        "offset": {"type": "integer"},
                        "next": {"type": ["integer", "null"]},
                    },
                },
                "PauseRequest": {
                    "type": "object",
                    "required": ["direction", "paused"],
                    "properties": {
                        "direction": {"type": "string", "enum": ["inbound", "outbound"]},
                        "paused": {"type": "boolean"},
                        "chainId": {"type": "integer"},
                    },
                },
                "SignedTreeHead": {
                    "type": "object",
                    "required": ["tree_size", "timestamp", "root_hash", "signature"],
                    "properties": {
                        "tree_size": {"type": "integer"},
                        "timestamp": {"type": "integer"},
                        "root_hash": HEX32,
                        "signature": {"type": "string"},
                    },
                },
                "InclusionProof": {
                    "type": "object",
                    "required": ["leaf_index", "tree_size", "inclusion_path"],
                    "properties": {
                        "leaf_index": {"type": "integer"},
                        "tree_size": {"type": "integer"},
                        "inclusion_path": {"type": "array", "items": HEX32},
                    },
                },
                "ConsistencyProof": {
                    "type": "object",
                    "required": ["first", "second", "consistency_path"],
                    "properties": {
                        "first": {"type": "integer"},
                        "second": {"type": "integer"},
                        "consistency_path": {"type": "array", "items": HEX32},
                    },
                },
            },
        },
    }
