"""The retry policy: what is transient, and that retries are capped."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from web3.exceptions import ContractLogicError, Web3RPCError

from relayer.errors import DariError
from relayer.retry import is_retryable, transient_retries
from relayer.watcher import RpcUnavailable


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
    assert is_retryable(error) is retryable


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
