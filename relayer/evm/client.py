"""An async EVM client over web3.py: deploy, transact with local signing and nonce tracking, decode reverts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from eth_utils.address import to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract
from web3.contract.async_contract import AsyncContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound
from web3.types import Nonce, RPCEndpoint, TxParams, TxReceipt

from relayer.errors import DariError
from relayer.evm.artifacts import Artifact, Artifacts


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
        types = [i["type"] if i["type"] != "tuple" else _tuple_type(i) for i in entry["inputs"]]
        values = abi_decode(types, raw[4:])
        return ContractReverted(
            entry["name"],
            tuple(to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True)),
        )


def _tuple_type(item: dict[str, Any]) -> str:
    inner = ",".join(c["type"] if c["type"] != "tuple" else _tuple_type(c) for c in item["components"])
    return f"({inner})"


class ChainClient:
    """One chain: a web3 connection, local nonces per sender, receipts by polling."""

    def __init__(self, rpc_url: str, decoder: RevertDecoder, *, poll_interval: float = 0.05) -> None:
        self.w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        self._decoder = decoder
        self._poll_interval = poll_interval
        self._nonces: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> ChainClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the HTTP session."""
        await self.w3.provider.disconnect()

    async def rpc(self, method: str, params: list[Any]) -> Any:
        """A raw JSON-RPC call (anvil_* and evm_* methods included)."""
        response = await self.w3.provider.make_request(RPCEndpoint(method), params)
        if "error" in response:
            raise ChainError(f"{method}: {response['error']}")
        return response["result"]

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
