"""Leadership lease: of several relayers on one database, one acts; a standby takes over once the
active one stops renewing. Portable (a row with an expiry), so it works on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from relayer.edges.db.schema import leases
from relayer.edges.db.store import now_utc


class Lease:
    def __init__(self, engine: AsyncEngine, name: str, owner: str, seconds: float) -> None:
        self._engine, self.name, self.owner, self.seconds = engine, name, owner, seconds

    async def acquire(self) -> bool:
        """Takes or renews the lease; False while another live owner holds it."""
        now = now_utc()
        expires = now + timedelta(seconds=self.seconds)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(leases)
                .where(leases.c.name == self.name, or_(leases.c.owner == self.owner, leases.c.expires_at < now))
                .values(owner=self.owner, expires_at=expires)
            )
            if result.rowcount == 1:
                return True
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(leases).values(name=self.name, owner=self.owner, expires_at=expires))
            return True
        except IntegrityError:
            return False

    async def release(self) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(leases)
                .where(leases.c.name == self.name, leases.c.owner == self.owner)
                .values(expires_at=now_utc())
            )
