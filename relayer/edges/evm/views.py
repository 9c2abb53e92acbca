"""`ContractViews`: the relayer's `ContractReads` over any `ChainReads`, at the configured addresses, each
answer decoded once, here, into a typed record (`relayer.core.records`)."""

from __future__ import annotations

import asyncio
from typing import Any

from relayer.core.config import Config
from relayer.core.constants import WALLET_LINKED
from relayer.core.errors import DariError, RpcUnavailable
from relayer.core.events import WalletLinked
from relayer.core.memo import MemoReads
from relayer.core.ports import ChainReads
from relayer.core.records import HolderEntry, Investor
from relayer.edges.evm.abi import checksum_address
from relayer.edges.evm.logs import address_topic, events_of, uint_topic


class ContractViews:
    """`ContractReads` over ``reads``, at the addresses ``config`` gives; `fresh` shares the reads of a pass."""

    def __init__(self, reads: ChainReads, config: Config) -> None:
        self._reads = reads
        self._config = config
        self._registry = config.registry
        self._tokens = [s.registry_token for s in config.securities if s.registry_token]

    def fresh(self) -> ContractViews:
        base = self._reads.reads if isinstance(self._reads, MemoReads) else self._reads
        return ContractViews(MemoReads(base), self._config)

    def _registry_call(self, contract: str, key: str, function: str, *args: Any) -> Any:
        address = self._registry.contracts.get(key)
        if address is None:
            raise DariError(f"the registry has no {key} configured")
        return self._reads.call(self._registry.chain_id, contract, address, function, *args)

    def _holder_registry(self, chain_id: int) -> str:
        address = self._config.chain(chain_id).contracts.get("holderRegistry")
        if address is None:
            raise DariError(f"chain {chain_id} has no holderRegistry configured")
        return address

    async def block_time(self, chain_id: int, number: int) -> int:
        found = await self._reads.block_time(chain_id, number)
        if found is None:
            raise RpcUnavailable("eth_getBlockByNumber", f"chain {chain_id} has no block {number} (yet)")
        return found

    async def linked_wallet(self, investor: str, chain_id: int) -> str:
        return checksum_address(
            str(await self._registry_call("WalletLinks", "walletLinks", "linkedWallet", investor, chain_id))
        )

    async def investor(self, investor: str) -> Investor:
        def ask(function: str) -> Any:
            return self._registry_call("InvestorRegistry", "investorRegistry", function, investor)

        investor_id, verified, country, investor_class, kyc_expiry = await asyncio.gather(
            ask("investorIdOf"), ask("isVerified"), ask("investorCountry"), ask("investorClass"), ask("kycExpiry")
        )
        return Investor(bytes(investor_id), bool(verified), int(country), int(investor_class), int(kyc_expiry))

    async def claim_anchor(self, investor_id: bytes) -> bytes:
        digest, _sequence = await self._registry_call("InvestorRegistry", "investorRegistry", "claimOf", investor_id)
        return bytes(digest)

    async def linker(self, chain_id: int, wallet: str) -> str | None:
        registry = self._registry.chain_id
        address = self._registry.contracts.get("walletLinks")
        if address is None:
            raise DariError("the registry has no walletLinks configured")
        topics = [WALLET_LINKED, None, uint_topic(chain_id), address_topic(wallet)]
        logs = await self._reads.logs(registry, address, topics, await self._reads.head(registry))
        links = events_of(registry, logs, WalletLinked, address)
        return checksum_address(links[-1].investor) if links else None

    async def registry_verified(self, account: str) -> bool:
        return bool(await self._registry_call("InvestorRegistry", "investorRegistry", "isVerified", account))

    async def frozen(self, investor: str) -> bool:
        registry = self._registry.chain_id
        found = await asyncio.gather(
            *(self._reads.call(registry, "SecurityToken", token, "isFrozen", investor) for token in self._tokens)
        )
        return any(bool(f) for f in found)

    async def holder(self, chain_id: int, wallet: str) -> HolderEntry:
        answer = await self._reads.call(chain_id, "HolderRegistry", self._holder_registry(chain_id), "holder", wallet)
        return HolderEntry.from_answer(answer)

    async def eligible(self, chain_id: int, wallet: str, security_id: bytes) -> bool:
        registry = self._holder_registry(chain_id)
        return bool(await self._reads.call(chain_id, "HolderRegistry", registry, "isEligible", wallet, security_id))

    async def wrapped_security_id(self, chain_id: int, token: str) -> bytes:
        return bytes(await self._reads.call(chain_id, "WrappedSecurity", token, "securityId"))
