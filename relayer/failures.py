"""The one place that decides what a failure is (`classify`), and how transient failures of one JSON-RPC
call are retried in-process (`transient_retries`, used by the transport only: `relayer.edges.evm.client`).

Everything else that fails transiently is left to the next pass of its lane, or to the operation's
persisted schedule (`relayer.core.transfer_state.backoff_seconds`): one tier of in-process retries at the
RPC call, never nested. `waits(False)` switches the retries' waits off (tests), as stamina does.
"""

from __future__ import annotations

import aiohttp
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, NotSupportedError, ProgrammingError
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
    wait_none,
)
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from relayer.core.errors import DariError, Failure

ATTEMPTS = 3
MAX_SECONDS = 5.0
_waiting = True


def classify(error: BaseException) -> Failure:
    """What ``error`` is. Our own errors say it themselves (`DariError.failure`). Transient: the network, an
    RPC node or the database hiccuped (a database restarting answers with a plain DBAPIError: "the database
    system is starting up"). Refused: a contract said no, or the database refused the data or the statement
    (neither succeeds by repetition). Anything else is a bug: fatal."""
    if isinstance(error, DariError):
        return error.failure
    if isinstance(error, ContractLogicError | ContractCustomError):
        return Failure.REFUSED
    if isinstance(error, DBAPIError):
        refused = isinstance(error, IntegrityError | DataError | ProgrammingError | NotSupportedError)
        return Failure.REFUSED if refused else Failure.TRANSIENT
    if isinstance(error, Web3RPCError | aiohttp.ClientError | TimeoutError | OSError):
        return Failure.TRANSIENT
    return Failure.FATAL


def is_transient(error: BaseException) -> bool:
    return classify(error) is Failure.TRANSIENT


def waits(enabled: bool) -> None:
    """Switches the waits between retries on or off (tests switch them off; attempts stay capped)."""
    global _waiting
    _waiting = enabled


def transient_retries(attempts: int = ATTEMPTS, seconds: float = MAX_SECONDS) -> AsyncRetrying:
    """Retries transient failures a few times, quickly, then re-raises the last one."""
    return AsyncRetrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(attempts) | stop_after_delay(seconds),
        wait=wait_exponential_jitter(multiplier=0.1, max=1.0) if _waiting else wait_none(),
        reraise=True,
    )
