"""Batches without a devnet: the journal's `record_many`, the parsing of ``POST /v1/sign-batch`` bodies, the
client's classification of (batch) answers, and `gather_many` against tiny fake attestors that answer
honestly or with garbage. The batch endpoint against real attestors is in tests/test_attestor.py."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import example, given, settings
from hypothesis import strategies as st

from attestations.eip712 import Domain
from attestations.kinds import HolderRevocation, ReconciliationReport
from attestations.signing import AttestorKey
from attestor.errors import BadRequest, Refused
from attestor.journal import Journal, JournalEntry
from attestor.requests import MAX_BATCH, SignRequest, parse_batch, parse_sign_request
from relayer.core.config import AttestorConfig
from relayer.core.errors import NotYetAttested
from relayer.edges.attestor_client import Outcome, _answer, ask_batch, gather_many, sign_request
from tests.vectors.attestation_vectors import path, vector_keys

TRANSFER, REFUND = "TransferAuthorization", "RefundAuthorization"
KEYS = vector_keys()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


# --- the journal -----------------------------------------------------------------------------------------


def test_record_many_counts_earlier_entries_of_the_batch_and_survives_reopening(tmp_path: Path) -> None:
    """In one batch a transfer makes its refund a journal-conflict (not recorded) while the rest is recorded;
    after reopening, the reverse exclusion holds and re-recording a digest changes nothing."""
    journal = Journal(tmp_path / "journal.db")
    transfer = JournalEntry(TRANSFER, 820001, 2**64 - 1, b"\x01" * 32, 100)
    refund = JournalEntry(REFUND, 820001, 2**64 - 1, b"\x02" * 32, 100)
    other_refund = JournalEntry(REFUND, 820001, 8, b"\x03" * 32, 100)
    holder = JournalEntry("HolderEligibility", 31337, None, b"\x04" * 32, 100)
    results = journal.record_many([(transfer, REFUND), (refund, TRANSFER), (other_refund, TRANSFER), (holder, None)])
    assert [r is None for r in results] == [True, False, True, True]
    assert isinstance(results[1], Refused) and results[1].code == "journal-conflict"
    journal.close()

    reopened = Journal(tmp_path / "journal.db")
    assert reopened.entries(820001) == [transfer, other_refund]
    transfer_of_8 = JournalEntry(TRANSFER, 820001, 8, b"\x05" * 32, 101)
    again = reopened.record_many(
        [(transfer_of_8, REFUND), (refund, TRANSFER), (replace(transfer, signed_at=999), REFUND)]
    )
    assert [r.code if r else None for r in again] == ["journal-conflict", "journal-conflict", None]
    assert reopened.entries(820001) == [transfer, other_refund]  # the same digest again keeps its first record
    assert reopened.record_many([]) == []
    reopened.close()


# --- parsing a batch ------------------------------------------------------------------------------------------


def _vector_request(kind: str) -> dict[str, Any]:
    typed = json.loads(path(kind).read_text())["attestation"]["typedData"]
    return {"kind": kind, "domain": typed["domain"], "message": typed["message"]}


VALID = [_vector_request(k) for k in (TRANSFER, REFUND, "ReleaseAuthorization", "HolderEligibility",
                                      "HolderRevocation", "RecognitionRecord")]  # fmt: skip


@st.composite
def near_misses(draw: st.DrawFn) -> tuple[Any, bool]:
    """A valid sign request with one part (or one field of its domain or message) replaced by junk, or
    untouched; and whether it is untouched."""
    request = copy.deepcopy(draw(st.sampled_from(VALID)))
    part = draw(st.sampled_from(["domain", "message", "kind", "context", "extra", ""]))
    if part in ("domain", "message"):
        request[part][draw(st.sampled_from(sorted(request[part])))] = draw(json_values)
    elif part:
        request[part] = draw(json_values)
    return request, not part


@settings(max_examples=200, deadline=None)
@given(items=st.lists(near_misses() | json_values.map(lambda v: (v, False)), max_size=4), raw=st.binary(max_size=64))
def test_parsing_a_batch_raises_only_bad_request(items: list[tuple[Any, bool]], raw: bytes) -> None:
    """Junk bodies raise `BadRequest`; in a well-formed batch every item is parsed or its own `BadRequest`,
    and every untouched valid request is parsed."""
    with contextlib.suppress(BadRequest):
        parse_batch(raw)
    with pytest.raises(BadRequest):
        parse_batch(json.dumps([r for r, _ in items]).encode())
    try:
        parsed = parse_batch(json.dumps({"requests": [r for r, _ in items]}).encode())
    except BadRequest:
        assert not items
        return
    assert len(parsed) == len(items)
    for result, (_, untouched) in zip(parsed, items, strict=True):
        assert isinstance(result, SignRequest | BadRequest)
        assert isinstance(result, SignRequest) or not untouched


def test_batch_limits() -> None:
    """1 to `MAX_BATCH` requests under exactly ``requests``; a ReconciliationReport is not batched."""
    one = VALID[0]
    refused: list[dict[str, Any]] = [
        {"requests": []}, {"requests": [one] * (MAX_BATCH + 1)}, {"requests": one}, {"requests": [one], "extra": 1}, {}
    ]  # fmt: skip
    for body in refused:
        with pytest.raises(BadRequest):
            parse_batch(json.dumps(body).encode())
    full = parse_batch(json.dumps({"requests": [one] * MAX_BATCH}).encode())
    assert len(full) == MAX_BATCH and all(isinstance(r, SignRequest) for r in full)
    report = {**_vector_request(ReconciliationReport.KIND), "context": {"blocks": {"820001": 1234}}}
    assert parse_sign_request(json.dumps(report).encode()).blocks == {820001: 1234}
    [alone] = parse_batch(json.dumps({"requests": [report]}).encode())
    assert isinstance(alone, BadRequest)


# --- classifying answers ---------------------------------------------------------------------------------------


def entry_of(key: AttestorKey, url: str = "http://127.0.0.1:1") -> AttestorConfig:
    public = key.public()
    return AttestorConfig(id=public["id"], url=url, ed25519=public["ed25519"], address=public["address"])


STATEMENTS = [HolderRevocation("0x" + "44" * 20, 5, nonce, 0) for nonce in (1, 2)]
DOMAIN = Domain(5, "0x" + "14" * 20)
DIGESTS = [s.digest(DOMAIN) for s in STATEMENTS]


def genuine(key: AttestorKey, digest: bytes) -> dict[str, str]:
    """The answer an honest attestor with ``key`` gives for ``digest``."""
    return {**key.sign(digest).to_json(), "digest": "0x" + digest.hex()}


def honestly(key: AttestorKey, digests: list[bytes]) -> Any:
    return {"answers": [{"status": 200, "body": genuine(key, d)} for d in digests]}


def hex_of(size: int) -> st.SearchStrategy[str]:
    """0x-hex of ``size`` bytes; 65 bytes end in a plausible v."""
    raw = st.binary(min_size=size, max_size=size)
    if size == 65:
        raw = st.tuples(st.binary(min_size=64, max_size=64), st.sampled_from([b"\x1b", b"\x1c", b"\x00"])).map(b"".join)
    return raw.map(lambda b: "0x" + b.hex())


def one_field_wrong(digest: bytes) -> st.SearchStrategy[dict[str, Any]]:
    """The genuine answer for ``digest`` with one field replaced by junk or by other hex of its size."""
    real = genuine(KEYS[0], digest)
    sizes = {"digest": 32, "ed25519": 64, "secp256k1": 65}

    def replaced(key: str) -> st.SearchStrategy[dict[str, Any]]:
        junk = json_values | (hex_of(sizes[key]) if key in sizes else st.text(max_size=8))
        return junk.map(lambda value: {**real, key: value})

    return st.sampled_from([*sorted(real), "secp256k1", "secp256k1"]).flatmap(replaced)  # the deepest check more often


def signature_like(digest: bytes) -> st.SearchStrategy[Any]:
    return st.just(genuine(KEYS[0], digest)) | one_field_wrong(digest)


statuses = st.just(200) | st.sampled_from([400, 409, 425, 500, 503]) | st.integers(-1, 999)  # 200 often


def expected(status: Any, body: Any, digest: bytes) -> Outcome:
    if status == 200:
        return Outcome.SIGNED if body == genuine(KEYS[0], digest) else Outcome.PENDING
    return Outcome.REFUSED if status in (400, 409) else Outcome.PENDING


@settings(max_examples=150, deadline=None)
@given(status=statuses, body=signature_like(DIGESTS[0]) | json_values)
@example(status=200, body=genuine(KEYS[0], DIGESTS[0]))
def test_an_answer_is_classified_never_raised(status: int, body: Any) -> None:
    """Only the genuine signature counts; 400 and 409 are refusals; anything else is pending."""
    answer = _answer(entry_of(KEYS[0]), status, body, DIGESTS[0])
    assert (answer.attestor, answer.outcome) == ("att-1", expected(status, body, DIGESTS[0]))


@settings(max_examples=100, deadline=None)
@given(body=one_field_wrong(DIGESTS[0]) | one_field_wrong(DIGESTS[1]))
def test_a_signature_with_one_field_wrong_is_not_counted(body: dict[str, Any]) -> None:
    """Unless the junk happens to be the genuine value, the answer is pending, never signed."""
    answer = _answer(entry_of(KEYS[0]), 200, body, DIGESTS[0])
    assert answer.outcome is expected(200, body, DIGESTS[0])


items = st.fixed_dictionaries({"status": statuses | json_values, "body": signature_like(DIGESTS[0]) | json_values})


@settings(max_examples=150, deadline=None)
@given(
    status=statuses,
    payload=json_values | st.fixed_dictionaries({"answers": st.lists(items | json_values, max_size=3)}),
    unreachable=st.booleans(),
)
@example(status=200, payload=honestly(KEYS[0], DIGESTS), unreachable=False)
def test_a_batch_answer_is_classified_never_raised(status: int, payload: Any, unreachable: bool) -> None:
    """Whatever the attestor sends, `ask_batch` gives one (status, body) per request or why there is none (a
    batch that is not one answer object per request), and each classifies as a single answer would."""

    async def post(*_args: Any) -> tuple[int, Any] | str:
        return "unreachable: ClientConnectorError" if unreachable else (status, payload)

    bodies = [sign_request(s, DOMAIN) for s in STATEMENTS]
    with mock.patch("relayer.edges.attestor_client._post", post):
        session = cast(aiohttp.ClientSession, None)  # the patched _post does not use it
        answers = asyncio.run(ask_batch(session, entry_of(KEYS[0]), bodies, 1.0))
    items = payload.get("answers") if isinstance(payload, dict) and status == 200 and not unreachable else None
    if not isinstance(items, list) or len(items) != 2 or not all(isinstance(item, dict) for item in items):
        assert isinstance(answers, str)
        return
    assert isinstance(answers, list) and len(answers) == 2
    for answer, item, digest in zip(answers, items, DIGESTS, strict=True):
        code = item["status"] if isinstance(item.get("status"), int) else 0
        assert _answer(entry_of(KEYS[0]), *answer, digest).outcome == expected(code, item.get("body"), digest)


# --- gather_many against fake attestors -----------------------------------------------------------------------

Respond = Callable[[AttestorKey, list[bytes]], Any]
Start = Callable[[AttestorKey, Respond], Awaitable[AttestorConfig]]


def signed_over(key: AttestorKey, signed: list[bytes], claimed: list[bytes], signer: AttestorKey) -> Any:
    """Answers naming ``key`` and the ``claimed`` digests, signed by ``signer`` over the ``signed`` ones."""
    pairs = zip(signed, claimed, strict=True)
    bodies = [{**genuine(signer, s), "attestor": key.id, "digest": "0x" + c.hex()} for s, c in pairs]
    return {"answers": [{"status": 200, "body": b} for b in bodies]}


GARBAGE: dict[str, Respond] = {
    "another key": lambda key, ds: signed_over(key, ds, ds, KEYS[2]),
    "another digest": lambda key, ds: signed_over(key, ds[::-1], ds, key),
    "digests swapped": lambda key, ds: signed_over(key, ds[::-1], ds[::-1], key),
    "one answer short": lambda key, ds: {"answers": honestly(key, ds)["answers"][1:]},
    "answers not objects": lambda key, ds: {"answers": [200] * len(ds)},
    "status not a number": lambda key, ds: {"answers": [{**a, "status": "200"} for a in honestly(key, ds)["answers"]]},
    "not the batch shape": lambda key, ds: [genuine(key, d) for d in ds],
}


@pytest.fixture
async def fake_attestor() -> AsyncIterator[Start]:
    """Starts fake attestors answering ``POST /v1/sign-batch`` with HTTP 200 and ``respond(key, digests)``."""
    servers: list[TestServer] = []

    async def start(key: AttestorKey, respond: Respond) -> AttestorConfig:
        async def sign_batch(request: web.Request) -> web.Response:
            parsed = [r for r in parse_batch(await request.read()) if isinstance(r, SignRequest)]
            return web.json_response(respond(key, [r.statement.digest(r.domain) for r in parsed]))

        app = web.Application()
        app.router.add_post("/v1/sign-batch", sign_batch)
        server = TestServer(app)
        await server.start_server()
        servers.append(server)
        return entry_of(key, str(server.make_url("")).rstrip("/"))

    yield start
    for server in servers:
        await server.close()


async def gathered(attestors: list[AttestorConfig], threshold: int) -> list[Any]:
    async with aiohttp.ClientSession() as session:
        requests = [(s, DOMAIN) for s in STATEMENTS]
        return await gather_many(requests, attestors, threshold, session=session, timeout=5)


async def test_gather_many_returns_threshold_signatures_by_signer_address(fake_attestor: Start) -> None:
    attestors = [await fake_attestor(key, honestly) for key in KEYS]
    by_address = [a.id for a in sorted(attestors, key=lambda a: int(a.address, 16))]
    assert by_address != sorted(by_address)  # the order is not the ids' by chance
    for threshold in (1, 2, 3):
        for signatures in await gathered(attestors, threshold):
            ids = [s.attestor for s in signatures]
            assert len(ids) == threshold
            assert ids == [i for i in by_address if i in ids]


@pytest.mark.parametrize("garbage", sorted(GARBAGE))
async def test_gather_many_never_counts_garbage(fake_attestor: Start, garbage: str) -> None:
    """With one honest attestor and one answering garbage, a threshold of two is never reached (the
    honest one alone reaches a threshold of one)."""
    honest = await fake_attestor(KEYS[0], honestly)
    liar = await fake_attestor(KEYS[1], GARBAGE[garbage])
    outcomes = await gathered([honest, liar], 2)
    assert all(isinstance(o, NotYetAttested) and "1 of 2 signatures" in str(o) for o in outcomes), outcomes
    assert [[s.attestor for s in o] for o in await gathered([honest, liar], 1)] == [["att-1"]] * 2
