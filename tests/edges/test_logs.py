"""Event decoding: real logs from anvil decode to the right values; junk never raises anything else."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from relayer.core.constants import BRIDGE_BACK, BRIDGE_OUT
from relayer.core.events import BridgeBack, BridgeOut, InvestorRevoked
from relayer.edges.evm.logs import EventDecodeError, decode_log
from tests.contracts.system import System


async def raw_logs(system: System, address: str) -> list[dict[str, Any]]:
    result = await system.chain.rpc("eth_getLogs", [{"address": address, "fromBlock": "0x0", "toBlock": "latest"}])
    return list(result)


@pytest.mark.integration
async def test_real_logs_decode(system: System) -> None:
    investor = await system.investor(units=100)
    wallet = await system.register_holder()
    nonce = await system.bridge_out(investor, 40, wallet)
    [out] = [
        e for log in await raw_logs(system, system.registry.escrow) if isinstance(e := decode_log(1, log), BridgeOut)
    ]
    assert (out.nonce, out.sender, out.amount, out.dest_chain_id, out.recipient) == (
        nonce,
        investor.address,
        40,
        system.chain_id,
        wallet,
    )
    assert out.token == system.token().address
    assert out.ref.chain_id == 1
    assert out.ref.block_hash.startswith("0x")

    holder = await system.funded_account()
    await system.register_holder(holder.address)
    await system.mint(holder.address, 5, 1)
    await system.transact(system.gateway.functions.bridgeBack(system.wrapped().address, 2, investor.address), holder)
    backs = [decode_log(1, log) for log in await raw_logs(system, system.public.gateway)]
    [back] = [e for e in backs if isinstance(e, BridgeBack)]
    assert (back.nonce, back.holder, back.amount, back.registry_recipient) == (1, holder.address, 2, investor.address)

    await system.transact(system.investors.functions.revokeInvestor(investor.address))
    revoked = [decode_log(1, log) for log in await raw_logs(system, system.registry.investor_registry)]
    assert any(isinstance(e, InvestorRevoked) and e.wallet == investor.address for e in revoked)


def test_unknown_topics_are_ignored() -> None:
    assert decode_log(1, {"topics": ["0x" + "00" * 32]}) is None
    assert decode_log(1, {"topics": []}) is None


@pytest.mark.parametrize("topic0", [BRIDGE_OUT, BRIDGE_BACK])
def test_malformed_known_events_raise_the_typed_error(topic0: str) -> None:
    base = {"blockNumber": "0x1", "blockHash": "0x" + "11" * 32, "transactionHash": "0x" + "22" * 32,
            "logIndex": "0x0", "address": Account.create().address}  # fmt: skip
    with pytest.raises(EventDecodeError):
        decode_log(1, {**base, "topics": [topic0], "data": "0x"})
    with pytest.raises(EventDecodeError):
        decode_log(1, {**base, "topics": [topic0, "0x01", "0x02", "0x03"], "data": "0x"})
    with pytest.raises(EventDecodeError):
        decode_log(1, {**base, "topics": [topic0] + ["0x" + "00" * 32] * 3, "data": "0x1234"})


@given(
    st.dictionaries(
        st.sampled_from(["topics", "data", "blockNumber", "blockHash", "transactionHash", "logIndex", "address"]),
        st.one_of(
            st.text(max_size=70),
            st.lists(st.sampled_from([BRIDGE_OUT, BRIDGE_BACK, "0x" + "00" * 32, "0x12"]), max_size=5),
        ),
    )
)
def test_junk_logs_only_raise_the_typed_error(log: dict[str, Any]) -> None:
    with contextlib.suppress(EventDecodeError):
        decode_log(1, log)
