"""Operator actions on held or stalled operations (`dari transfers approve|reject|retry` and the API's
``POST /v1/transfers/{id}/{action}``): the core's move, applied to the store. An approval or rejection comes
with a compliance officer's signed decision, verified here against the configured officers and for the
operation's own source event, appended to the transparency log and stored before the operation moves."""

from __future__ import annotations

from datetime import UTC, datetime

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.trust import TrustList
from relayer.core.config import Config
from relayer.core.model import Operation, StaleState
from relayer.core.operator import DECIDED, Decided, OperatorRefused, operator_move
from relayer.core.ports import AttestationLog, Clock, OperationStore
from relayer.core.signed import NotCounted, decisions_domain, trust_of, verified_decision
from relayer.core.transfer_state import OperatorAction


class Operator:
    """`relayer.core.ports.OperatorActions` over one store; ``officers``: the compliance officers whose
    decisions count (None: none do), under ``domain`` (`relayer.core.signed.decisions_domain`)."""

    def __init__(
        self, store: OperationStore, clock: Clock, log_: AttestationLog, officers: TrustList | None, domain: Domain
    ) -> None:
        self._store, self._clock, self._log = store, clock, log_
        self._officers, self._domain = officers, domain

    @classmethod
    def from_config(cls, config: Config, store: OperationStore, clock: Clock, log_: AttestationLog) -> Operator:
        """The operator actions with ``config``'s compliance officers."""
        return cls(store, clock, log_, trust_of(config.officers) if config.officers else None, decisions_domain(config))

    async def __call__(
        self, operation_id: str, action: OperatorAction, decision: Attestation | None = None
    ) -> Operation:
        """Applies ``action`` (approve and reject with ``decision``); `UnknownOperation`, or `OperatorRefused`
        when it does not apply now (the operation's state, or it moved on meanwhile) or the decision does not
        count for it."""
        op = await self._store.get(operation_id)
        decided = None
        if decision is not None and action in DECIDED:
            if self._officers is None:
                raise OperatorRefused("no compliance officers are configured: no decision counts")
            try:
                statement = verified_decision(decision, self._officers, self._domain, op.source)
            except NotCounted as exc:
                raise OperatorRefused(f"{op.id}: {exc}") from None
            decided = Decided(statement, "0x" + decision.digest.hex())
        move = operator_move(op, action, datetime.fromtimestamp(self._clock(), UTC), decided)
        if decision is not None and decided is not None:
            [index] = await self._log.append_many([decision.digest])
            await self._store.save_attestations([(decision.with_log_index(index), None)])
        try:
            return await self._store.transition(op.id, move.event, expect=op.state, detail=move.detail, **move.fields)
        except StaleState as exc:
            raise OperatorRefused(str(exc)) from exc
