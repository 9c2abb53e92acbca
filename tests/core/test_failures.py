"""The one classifier of failures (`relayer.failures.classify`): what is transient, refused or fatal, for
our own errors and the libraries'; and the one retry policy for transient faults, capped."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from web3.exceptions import ContractLogicError, Web3RPCError

from attestor.errors import ChainUnavailable, NotFinal, Refused
from relayer.core.errors import (
    AttestationRefused,
    ConfigError,
    DariError,
    DeliveryRefused,
    Failure,
    NotYetAttested,
    RpcUnavailable,
)
from relayer.core.finality import ReorgTooDeep
from relayer.edges.evm.client import ContractReverted
from relayer.edges.evm.logs import EventDecodeError
from relayer.failures import classify, is_transient, transient_retries


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (RpcUnavailable("eth_getLogs", "connection refused"), True),
        (aiohttp.ClientConnectionError(), True),
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (Web3RPCError("internal error"), True),
        (ContractLogicError("execution reverted"), False),
        (DariError("refused"), False),
        (ValueError("bug"), False),
        (DBAPIError("SELECT 1", {}, Exception("the database system is starting up")), True),
        (OperationalError("SELECT 1", {}, Exception("server closed the connection")), True),
        (IntegrityError("INSERT", {}, Exception("duplicate key")), False),
        (ProgrammingError("SELEC", {}, Exception("syntax error")), False),
    ],
)
def test_predicate(error: BaseException, retryable: bool) -> None:
    assert is_transient(error) is retryable


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (RpcUnavailable("eth_call", "timeout"), Failure.TRANSIENT),
        (NotYetAttested("1 of 2 signatures"), Failure.TRANSIENT),
        (ChainUnavailable("node down"), Failure.TRANSIENT),
        (NotFinal("not-final", "1 of 2 confirmations"), Failure.TRANSIENT),
        (OSError("disk"), Failure.TRANSIENT),
        (DariError("refused"), Failure.REFUSED),
        (ContractReverted("Paused", ()), Failure.REFUSED),
        (DeliveryRefused("Paused", "reverted"), Failure.REFUSED),
        (AttestationRefused({"att-1": "amount-mismatch"}), Failure.REFUSED),
        (Refused("amount-mismatch", "5 vs 6"), Failure.REFUSED),
        (IntegrityError("INSERT", {}, Exception("duplicate key")), Failure.REFUSED),
        (ReorgTooDeep(10, 31337), Failure.FATAL),
        (EventDecodeError("undecodable log data"), Failure.FATAL),
        (ConfigError("config", ["relayer: missing"]), Failure.FATAL),
        (KeyError("a bug"), Failure.FATAL),
    ],
)
def test_every_failure_has_one_class(error: BaseException, failure: Failure) -> None:
    """One classifier decides for every lane, stage and retry loop: a documented-fatal deep reorg is fatal,
    never a stage failure logged every pass."""
    assert classify(error) is failure


async def test_transient_failures_are_retried_then_reraised() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise TimeoutError
        return "ok"

    async for attempt in transient_retries(attempts=3):
        with attempt:
            result = await flaky()
    assert (result, calls) == ("ok", 3)

    calls = 0

    async def give_up() -> None:
        async for attempt in transient_retries(attempts=2):
            with attempt:
                await flaky()

    with pytest.raises(TimeoutError):
        await give_up()
    assert calls == 2


async def test_permanent_failures_are_not_retried() -> None:
    calls = 0

    async def refuse() -> None:
        nonlocal calls
        async for attempt in transient_retries(attempts=5):
            with attempt:
                calls += 1
                raise DariError("no")

    with pytest.raises(DariError):
        await refuse()
    assert calls == 1
