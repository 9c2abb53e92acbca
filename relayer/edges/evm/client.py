"""An async EVM client: one JSON-RPC transport (raw batches over the client's own session, concurrent
single requests coalesced into one batch) that retries what is transient at the call (`relayer.failures`),
and web3.py for deployments and operator transactions (local signing, nonce tracking, revert decoding)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from eth_utils.address import to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract
from web3.contract.async_contract import AsyncContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound
from web3.types import BlockIdentifier, Nonce, RPCEndpoint, TxParams, TxReceipt

from relayer.core.errors import DariError, RpcUnavailable
from relayer.edges.evm.abi import Function, abi_type
from relayer.edges.evm.artifacts import Artifact, Artifacts
from relayer.failures import transient_retries

BATCH_LIMIT = 500  # requests per JSON-RPC batch
RPC_TIMEOUT = 30.0  # seconds per JSON-RPC request
TRANSIENT_CODES = frozenset({-32603, -32005})  # JSON-RPC "internal error", "limit exceeded": the node's trouble


class ChainError(DariError):
    """A chain call failed."""


class ContractReverted(ChainError):
    """A call or transaction reverted; ``error`` is the custom error's name, ``args`` its decoded arguments."""

    def __init__(self, error: str, args: tuple[Any, ...]) -> None:
        self.error = error
        self.args_ = args
        super().__init__(f"reverted with {error}{args}")


class TransactionFailed(ChainError):
    """A mined transaction has status 0 (reverted on chain)."""


@dataclass(frozen=True)
class RpcError:
    """A JSON-RPC error answer to one request of a batch (``data``: revert data, when the node gave any)."""

    method: str
    code: int | None
    message: str
    data: str | None

    def unavailable(self) -> RpcUnavailable:
        return RpcUnavailable(self.method, self.message, self.code)

    @property
    def transient(self) -> bool:
        """Whether the node failed rather than the request (asking again may succeed; never a revert)."""
        return self.code in TRANSIENT_CODES and self.data is None


class _TransientAnswers(RpcUnavailable):
    """Some answers of a batch were transient error answers (retried; the last ones are returned)."""


@dataclass(frozen=True)
class View:
    """A read-only call: ``function`` of the contract at ``address`` with ``args``."""

    address: str
    function: Function
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class RevertDecoder:
    """Turns revert data into `ContractReverted` using the custom errors of every known contract."""

    errors: dict[bytes, dict[str, Any]]

    @classmethod
    def from_artifacts(cls, artifacts: Artifacts) -> RevertDecoder:
        return cls(artifacts.error_abis())

    def decode(self, data: str | bytes) -> ContractReverted:
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
        entry = self.errors.get(raw[:4])
        if entry is None:
            return ContractReverted("Unknown", ("0x" + raw.hex(),))
        types = [abi_type(i) for i in entry["inputs"]]
        values = abi_decode(types, raw[4:])
        return ContractReverted(
            entry["name"],
            tuple(to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True)),
        )

    def revert(self, error: RpcError) -> ContractReverted | None:
        """The revert an error answer reports (with or without data), None when it is no revert."""
        if error.data is not None and len(error.data) >= 10:
            try:
                return self.decode(error.data)
            except (ValueError, DecodingError):
                return ContractReverted("Unknown", (error.data,))
        if error.code == 3 or "revert" in error.message.lower():
            return ContractReverted("Error", (error.message,))
        return None


class ChainClient:
    """One chain: a web3 connection (deployments, transactions, local nonces per sender, receipts by
    polling) and raw JSON-RPC batches for the hot paths (`batch`, `request`, `views`)."""

    def __init__(
        self, rpc_url: str, decoder: RevertDecoder, *, poll_interval: float = 0.05, timeout: float = RPC_TIMEOUT
    ) -> None:
        self.url = rpc_url
        self.w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None  # for `batch`
        self._queued: list[tuple[str, list[Any], asyncio.Future[Any]]] = []  # for `request`
        self._sending: set[asyncio.Task[None]] = set()
        self._decoder = decoder
        self._poll_interval = poll_interval
        self._nonces: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> ChainClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the HTTP sessions (requests still in the air fail with `RpcUnavailable`)."""
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        await self.w3.provider.disconnect()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def rpc(self, method: str, params: list[Any]) -> Any:
        """A raw JSON-RPC call (anvil_* and evm_* methods included)."""
        response = await self.w3.provider.make_request(RPCEndpoint(method), params)
        if "error" in response:
            raise ChainError(f"{method}: {response['error']}")
        return response["result"]

    async def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """JSON-RPC requests in batches of `BATCH_LIMIT`; per call its result or its `RpcError`. A batch that
        fails (no connection, bad answer), and the requests answered with a transient error, are sent again
        a few times (`relayer.failures.transient_retries`); a batch that still fails raises `RpcUnavailable`."""
        answers: list[Any] = []
        for start in range(0, len(calls), BATCH_LIMIT):
            answers += await self._batch_retried(calls[start : start + BATCH_LIMIT])
        return answers

    async def _batch_retried(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        results: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        try:
            async for attempt in transient_retries():
                with attempt:
                    answers = await self._batch_once([calls[i] for i in pending])
                    for i, answer in zip(pending, answers, strict=True):
                        results[i] = answer
                    pending = [i for i in pending if isinstance(results[i], RpcError) and results[i].transient]
                    if pending:
                        raise _TransientAnswers(calls[pending[0]][0], f"{len(pending)} transient error answers")
        except _TransientAnswers:
            pass  # each still failing request keeps its error answer
        return results

    async def _batch_once(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """One JSON-RPC batch over the client's own session (web3's provider sorts and validates each
        answer, at a cost that shows on the hot path); answers are matched by id. A lone call goes as a
        bare request, and its answer is taken whatever id it carries."""
        if not calls:
            return []
        what = calls[0][0] if len(calls) == 1 else f"batch of {len(calls)} ({calls[0][0]}, ...)"
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        try:
            async with self._client().post(self.url, json=body[0] if len(body) == 1 else body) as response:
                if response.status != 200:
                    raise RpcUnavailable(what, f"HTTP {response.status}")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            raise RpcUnavailable(what, f"{type(exc).__name__}: {exc}") from exc
        if len(calls) == 1 and isinstance(answer, dict) and ("result" in answer or "error" in answer):
            answer = [{**answer, "id": 0}]
        if not isinstance(answer, list):
            error = answer.get("error") if isinstance(answer, dict) else None
            raise RpcUnavailable(what, f"batch refused: {error or answer}", _error_code(error))
        by_id = {a["id"]: a for a in answer if isinstance(a, dict) and isinstance(a.get("id"), int)}
        if len(answer) != len(calls) or set(by_id) != set(range(len(calls))):
            raise RpcUnavailable(what, f"{len(answer)} answers to {len(calls)} requests, not one per id")
        results: list[Any] = []
        for i, (method, _) in enumerate(calls):
            reply = by_id[i]
            error = reply.get("error")
            if error is None:
                results.append(reply.get("result"))
                continue
            message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
            data = error.get("data") if isinstance(error, dict) else None
            results.append(RpcError(method, _error_code(error), message, data if isinstance(data, str) else None))
        return results

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        return self._session

    async def request(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC request, sent in one batch with every other request this turn of the event loop
        makes of this client (concurrent reads coalesce); its result or its `RpcError`, `RpcUnavailable`
        when the batch failed."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        self._queued.append((method, params, answer))
        if len(self._queued) == 1:
            loop.call_soon(self._flush)
        return await answer

    def _flush(self) -> None:
        queued, self._queued = self._queued, []
        task = asyncio.ensure_future(self._send_queued(queued))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_queued(self, queued: list[tuple[str, list[Any], asyncio.Future[Any]]]) -> None:
        try:
            results = await self.batch([(method, params) for method, params, _ in queued])
        except BaseException as exc:  # every caller hears why; a cancellation (close) goes on
            failure = exc if isinstance(exc, Exception) else RpcUnavailable(queued[0][0], "the client is closing")
            for *_, answer in queued:
                if not answer.done():
                    answer.set_exception(failure)
            if not isinstance(exc, Exception):
                raise
            return
        for (*_, answer), result in zip(queued, results, strict=True):
            if not answer.done():
                answer.set_result(result)

    async def batch_results(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """`batch`, raising `RpcUnavailable` for the first error answer."""
        results = await self.batch(calls)
        for result in results:
            if isinstance(result, RpcError):
                raise result.unavailable()
        return results

    async def views(self, views: Sequence[View], block: BlockIdentifier = "latest") -> list[Any]:
        """Read-only calls in one JSON-RPC batch at ``block``, decoded; a revert raises `ContractReverted`,
        a transport fault `RpcUnavailable`."""
        calls = [_eth_call(v, block) for v in views]
        return [self._decoded(v, result) for v, result in zip(views, await self.batch(calls), strict=True)]

    async def view(self, address: str, function: Function, *args: Any, block: BlockIdentifier = "latest") -> Any:
        """One read-only call (see `views`), coalesced with the other requests of this turn (`request`)."""
        view = View(address, function, args)
        return self._decoded(view, await self.request(*_eth_call(view, block)))

    def _decoded(self, view: View, result: Any) -> Any:
        if isinstance(result, RpcError):
            raise self._decoder.revert(result) or result.unavailable()
        if not isinstance(result, str) or not result.startswith("0x"):
            raise RpcUnavailable("eth_call", f"not hex data: {result!r}")
        try:
            return view.function.decode(bytes.fromhex(result[2:]))
        except (DecodingError, ValueError) as exc:  # no contract there, or not the expected outputs
            raise ContractReverted("Undecodable", (view.function.name, result)) from exc

    async def chain_id(self) -> int:
        return int(await self.w3.eth.chain_id)

    def contract(self, artifact: Artifact, address: str) -> AsyncContract:
        return self.w3.eth.contract(address=self.w3.to_checksum_address(address), abi=artifact.abi)

    async def deploy(self, artifact: Artifact, signer: LocalAccount, *args: Any) -> ChecksumAddress:
        """Deploys ``artifact`` with constructor ``args``; returns the contract address."""
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = await self._send(factory.constructor(*args), signer)
        address = receipt["contractAddress"]
        if address is None:
            raise TransactionFailed(f"deployment of {artifact.name} returned no address")
        return address

    async def transact(self, fn: AsyncContractFunction, signer: LocalAccount) -> TxReceipt:
        """Sends ``fn`` signed by ``signer`` and waits for a successful receipt."""
        return await self._send(fn, signer)

    async def call(self, fn: AsyncContractFunction) -> Any:
        """Calls a view function; reverts surface as `ContractReverted`."""
        try:
            return await fn.call()
        except ContractCustomError as exc:
            raise self._decoder.decode(str(exc.data)) from None

    async def _send(self, fn: Any, signer: LocalAccount) -> TxReceipt:
        lock = self._locks.setdefault(signer.address, asyncio.Lock())
        async with lock:
            nonce = self._nonces.get(signer.address)
            if nonce is None:
                nonce = await self.w3.eth.get_transaction_count(signer.address, "pending")
            params: TxParams = {
                "from": signer.address,
                "nonce": Nonce(nonce),
                "gasPrice": await self.w3.eth.gas_price,
                "chainId": await self.w3.eth.chain_id,
            }
            try:
                tx = await fn.build_transaction(params)
            except ContractCustomError as exc:
                raise self._decoder.decode(str(exc.data)) from None
            except ContractLogicError as exc:
                raise ContractReverted("Error", (str(exc),)) from None
            signed = signer.sign_transaction(tx)
            tx_hash = await self.w3.eth.send_raw_transaction(signed.raw_transaction)
            self._nonces[signer.address] = nonce + 1
        receipt = await self.wait_receipt(tx_hash.to_0x_hex())
        if receipt["status"] != 1:
            raise TransactionFailed(f"transaction {tx_hash.to_0x_hex()} reverted on chain")
        return receipt

    async def wait_receipt(self, tx_hash: str, timeout: float = 60.0) -> TxReceipt:
        """Polls until ``tx_hash`` is mined."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                return await self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
            except TransactionNotFound:
                pass
            if loop.time() > deadline:
                raise ChainError(f"transaction {tx_hash} not mined within {timeout} s")
            await asyncio.sleep(self._poll_interval)


def quantity(method: str, value: object) -> int:
    """A JSON-RPC hex quantity in the answer to ``method``; `RpcUnavailable` for anything else."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RpcUnavailable(method, f"not a hex quantity: {value!r}")
    try:
        return int(value, 16)
    except ValueError:
        raise RpcUnavailable(method, f"not a hex quantity: {value!r}") from None


def _eth_call(view: View, block: BlockIdentifier) -> tuple[str, list[Any]]:
    tag = hex(block) if isinstance(block, int) else str(block)
    return "eth_call", [{"to": view.address, "data": "0x" + view.function.encode(*view.args).hex()}, tag]


def _error_code(error: object) -> int | None:
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None
