"""The attestor's signing journal: every statement it signed (kind, source chain, nonce, digest, time), in a
small SQLite file that survives restarts. It is the single source of the transfer-vs-refund exclusion
(INV-003): once an attestor signed a TransferAuthorization for a bridge-out it never signs its refund, and
the reverse; and of one authorization per source event: a second, different statement of the same kind for
the same event (another lock-up, another destination or gateway deployment) is refused too. The check and
the write happen in one ``BEGIN IMMEDIATE`` transaction, so two concurrent requests (or two processes
sharing the file) cannot both pass it.

Chain ids and nonces are stored as decimal text: both may exceed SQLite's signed 64-bit integers.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from attestor.errors import AttestorError, Refused

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS signed (
    digest TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    source_chain_id TEXT NOT NULL,
    nonce TEXT,
    signed_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS signed_by_source ON signed (source_chain_id, nonce);
"""


class JournalError(AttestorError):
    """The journal file cannot be opened or written."""


@dataclass(frozen=True)
class JournalEntry:
    """One signed statement. ``source_chain_id``/``nonce`` identify the event it is about (for holder
    statements: the public chain and no nonce)."""

    kind: str
    source_chain_id: int
    nonce: int | None
    digest: bytes
    signed_at: int


class Journal:
    """The journal file; use from one thread at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # one thread at a time (the attestor's journal thread), not always the one that opened it
            self._db = sqlite3.connect(path, isolation_level=None, timeout=10.0, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if version not in (0, SCHEMA_VERSION):
                raise JournalError(f"journal {path} has schema version {version}, expected {SCHEMA_VERSION}")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(f"cannot open journal {path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def record(self, entry: JournalEntry, *, excludes: str | None = None) -> None:
        """Records ``entry``; raises `Refused` (``journal-conflict``) instead if, for the same source chain and
        nonce, a statement of the kind ``excludes`` names, or another statement of ``entry``'s own kind, was
        already signed. Re-recording the same digest is a no-op (the relayer may ask again)."""
        [conflict] = self.record_many([(entry, excludes)])
        if conflict is not None:
            raise conflict

    def record_many(self, items: Sequence[tuple[JournalEntry, str | None]]) -> list[Refused | None]:
        """`record` for many entries in one transaction (one sync to disk); per entry, the `Refused` it
        met instead of being recorded, or None. Entries earlier in ``items`` count for later ones."""
        results: list[Refused | None] = []
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for entry, excludes in items:
                    results.append(self._record(entry, excludes))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write journal {self.path}: {exc}") from exc
        return results

    def _record(self, entry: JournalEntry, excludes: str | None) -> Refused | None:
        chain, nonce = str(entry.source_chain_id), None if entry.nonce is None else str(entry.nonce)
        if nonce is not None:
            digest = "0x" + entry.digest.hex()
            row = self._db.execute(
                "SELECT kind, digest FROM signed WHERE source_chain_id = ? AND nonce = ?"
                " AND (kind = ? OR (kind = ? AND digest != ?)) LIMIT 1",
                (chain, nonce, excludes or "", entry.kind, digest),
            ).fetchone()
            if row is not None:
                return Refused(
                    "journal-conflict", f"a {row[0]} ({row[1]}) was already signed for nonce {nonce} of chain {chain}"
                )
        self._db.execute(
            "INSERT OR IGNORE INTO signed (digest, kind, source_chain_id, nonce, signed_at) VALUES (?, ?, ?, ?, ?)",
            ("0x" + entry.digest.hex(), entry.kind, chain, nonce, entry.signed_at),
        )
        return None

    def entries(self, source_chain_id: int, nonce: int | None = None) -> list[JournalEntry]:
        """Signed statements about ``source_chain_id`` (and ``nonce``, when given), oldest first."""
        query = "SELECT kind, source_chain_id, nonce, digest, signed_at FROM signed WHERE source_chain_id = ?"
        params: tuple[str, ...] = (str(source_chain_id),)
        if nonce is not None:
            query += " AND nonce = ?"
            params += (str(nonce),)
        try:
            rows = self._db.execute(query + " ORDER BY signed_at, rowid", params).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read journal {self.path}: {exc}") from exc
        return [
            JournalEntry(kind, int(chain), None if n is None else int(n), bytes.fromhex(digest[2:]), at)
            for kind, chain, n, digest, at in rows
        ]


class JournalWriter:
    """Group commit for one journal: records asked for while a commit waits for the disk go into the next
    commit together, on one thread of the writer's own, so the event loop never blocks on the disk and
    concurrent batches share one sync. Each caller gets its own entries' outcomes, in its own order
    (entries of earlier callers count for later ones, as within one `Journal.record_many`)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self._queued: list[tuple[list[tuple[JournalEntry, str | None]], asyncio.Future[list[Refused | None]]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def record_many(self, items: Sequence[tuple[JournalEntry, str | None]]) -> list[Refused | None]:
        """`Journal.record_many`, in the next group commit."""
        answer: asyncio.Future[list[Refused | None]] = asyncio.get_running_loop().create_future()
        self._queued.append((list(items), answer))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write())
        return await answer

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queued:
            group, self._queued = self._queued, []
            flat = [item for items, _ in group for item in items]
            try:
                results = await loop.run_in_executor(self._thread, self.journal.record_many, flat)
            except BaseException as exc:  # the journal could not be written: each caller hears why
                for _, answer in group:
                    if not answer.done():
                        answer.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            offset = 0
            for items, answer in group:
                if not answer.done():
                    answer.set_result(results[offset : offset + len(items)])
                offset += len(items)

    def close(self) -> None:
        """Waits for the writer thread, then closes the journal."""
        self._thread.shutdown(wait=True)
        self.journal.close()
