"""Table definitions (SQLAlchemy Core); migrations under ``relayer/migrations`` create them."""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

chain_cursors = Table(
    "chain_cursors",
    metadata,
    Column("chain_id", BigInteger, primary_key=True, autoincrement=False),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", String(66), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The transparency log's entries (32-byte attestation digests), append-only: triggers refuse UPDATE and DELETE.
log_entries = Table(
    "log_entries",
    metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    Column("entry", LargeBinary(32), nullable=False),
    UniqueConstraint("entry", name="uq_log_entries_entry"),
    CheckConstraint("leaf_index >= 0", name="ck_log_entries_leaf_index"),
    CheckConstraint("length(entry) = 32", name="ck_log_entries_entry_length"),
)
