"""The fixture deploys a working system: an attested mint reaches a registered holder."""

from __future__ import annotations

import pytest

from attestations.eip712 import digest
from tests.contracts.system import System, events

pytestmark = pytest.mark.integration


async def test_attested_mint_reaches_registered_holder(system: System) -> None:
    holder = await system.register_holder()
    receipt = await system.mint(holder, 5, nonce=1)
    assert await system.chain.call(system.wrapped().functions.balanceOf(holder)) == 5
    [event] = events(system.gateway, "Minted", receipt)
    assert event["sourceNonce"] == 1
    message = system.authorization(holder, 5, 1)
    on_chain = await system.chain.call(system.gateway.functions.transferDigest(message))
    assert on_chain == digest("TransferAuthorization", system.domain(system.public.gateway), message)
