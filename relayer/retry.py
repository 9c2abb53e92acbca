"""The one place that decides whether a failure is transient, and how transient failures are retried
in-process (tenacity: named predicate, capped attempts and time, jittered backoff). What still fails is
left to the persisted, transfer-level schedule (`relayer.transfer_state.backoff_seconds`)."""

from __future__ import annotations

import aiohttp
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, NotSupportedError, ProgrammingError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential_jitter
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from relayer.watcher import RpcUnavailable

ATTEMPTS = 3
MAX_SECONDS = 5.0


def is_retryable(error: BaseException) -> bool:
    """Transient: the network, an RPC node or the database hiccuped (a database restarting answers with a
    plain DBAPIError: "the database system is starting up"). Not transient: a contract said no, our own
    logic refused, or the database refused the data or the statement (those never succeed by repetition)."""
    if isinstance(error, ContractLogicError | ContractCustomError):
        return False
    if isinstance(error, DBAPIError):
        return not isinstance(error, IntegrityError | DataError | ProgrammingError | NotSupportedError)
    return isinstance(error, RpcUnavailable | Web3RPCError | aiohttp.ClientError | TimeoutError | ConnectionError)


def transient_retries(attempts: int = ATTEMPTS, seconds: float = MAX_SECONDS) -> AsyncRetrying:
    """Retries transient failures a few times, quickly, then re-raises the last one."""
    return AsyncRetrying(
        retry=retry_if_exception(is_retryable),
        stop=stop_after_attempt(attempts) | stop_after_delay(seconds),
        wait=wait_exponential_jitter(multiplier=0.1, max=1.0),
        reraise=True,
    )
