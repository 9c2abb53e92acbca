"""The public gateways' pauses, set with the relayer's key (it holds PAUSER_ROLE on every gateway):
an operator's pause or resume (``POST /v1/pause``) and reconciliation's pause of minting on drift."""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from eth_account.signers.local import LocalAccount
from web3.contract import AsyncContract

from relayer.core.config import Config
from relayer.core.errors import DariError
from relayer.core.ports import PauseOutcome
from relayer.edges.evm.artifacts import Artifacts
from relayer.edges.evm.client import ChainClient

log = structlog.get_logger("dari.pause")


class GatewayPauser:
    """`Pauser` over the clients of every public chain (by chain id)."""

    def __init__(
        self, config: Config, clients: Mapping[int, ChainClient], artifacts: Artifacts, signer: LocalAccount
    ) -> None:
        self._config, self._clients, self._artifacts, self._signer = config, clients, artifacts, signer

    def _gateway(self, chain_id: int) -> tuple[ChainClient, AsyncContract]:
        client = self._clients[chain_id]
        address = self._config.chain(chain_id).contracts.get("gateway")
        if address is None:
            raise DariError(f"chain {chain_id} has no gateway configured")
        return client, client.contract(self._artifacts.get("BridgeGateway"), address)

    async def pause(self, direction: str, paused: bool, chain_id: int | None = None) -> list[str]:
        hashes = []
        for chain in self._config.public:
            if chain_id is not None and chain.chain_id != chain_id:
                continue
            client, gateway = self._gateway(chain.chain_id)
            functions = gateway.functions
            fn = functions.setInboundPaused if direction == "inbound" else functions.setOutboundPaused
            receipt = await client.transact(fn(paused), self._signer)
            hashes.append(receipt["transactionHash"].to_0x_hex())
            log.warning("gateway pause set", chain=chain.chain_id, direction=direction, paused=paused)
        return hashes

    async def pause_inbound(self) -> list[PauseOutcome]:
        outcomes = []
        for chain in self._config.public:
            try:
                client, gateway = self._gateway(chain.chain_id)
                functions = gateway.functions
                if await client.call(functions.inboundPaused()):
                    outcomes.append(PauseOutcome(chain.chain_id))
                    continue
                receipt = await client.transact(functions.setInboundPaused(True), self._signer)
                outcomes.append(PauseOutcome(chain.chain_id, receipt["transactionHash"].to_0x_hex()))
                log.warning("inbound minting paused on drift", chain=chain.chain_id)
            except (DariError, OSError, TimeoutError) as exc:
                log.error("cannot pause inbound minting", chain=chain.chain_id, error=repr(exc))
                outcomes.append(PauseOutcome(chain.chain_id, error=str(exc) or type(exc).__name__))
        return outcomes
