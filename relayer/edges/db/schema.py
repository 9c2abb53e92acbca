"""Table definitions (SQLAlchemy Core); migrations under ``relayer/migrations`` create them."""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
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

# Every operation the relayer carries out (bridge-outs, bridge-backs, holder registrations and
# revocations), in one state machine (relayer/transfer_state.py). Amounts are decimal strings (uint256).
operations = Table(
    "operations",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("state", String(32), nullable=False, index=True),
    Column("source_chain_id", BigInteger, nullable=False),
    Column("source_nonce", BigInteger),
    Column("dest_chain_id", BigInteger, nullable=False),
    Column("security_id", String(66)),
    Column("token", String(42)),
    Column("sender", String(42)),
    Column("recipient", String(42)),
    Column("amount", String(78)),
    Column("source_tx_hash", String(66), nullable=False),
    Column("source_block_number", BigInteger, nullable=False),
    Column("source_block_hash", String(66), nullable=False),
    Column("source_log_index", BigInteger, nullable=False),
    Column("payload", Text, nullable=False, default="{}"),  # kind-specific facts (JSON)
    Column("decision", Text),  # the compliance decision (JSON)
    Column("reason", String(64)),  # why rejected, held or stalled (kebab-case)
    Column("reason_code", BigInteger),  # refund reason code on chain
    Column("locked_until", BigInteger),
    Column("attestation", String(66)),  # digest of the delivering attestation
    Column("dest_tx_hash", String(66)),
    Column("attempts", BigInteger, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, index=True),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finalized_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
)

operation_history = Table(
    "operation_history",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("operation_id", String(128), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("from_state", String(32)),
    Column("to_state", String(32), nullable=False),
    Column("event", String(32), nullable=False),
    Column("detail", Text),
)

attestations = Table(
    "attestations",
    metadata,
    Column("digest", String(66), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("operation_id", String(128), index=True),
    Column("document", Text, nullable=False),  # the attestation JSON (SPEC section 4)
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Leadership leases: one relayer acts per chain at a time; a standby takes over when a lease expires.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Transactions the relayer broadcast, recorded before broadcasting, so a restart can reconcile them.
submissions = Table(
    "submissions",
    metadata,
    Column("tx_hash", String(66), primary_key=True),
    Column("chain_id", BigInteger, nullable=False),
    Column("sender", String(42), nullable=False),
    Column("nonce", BigInteger, nullable=False),
    Column("operation_ids", Text, nullable=False),  # JSON list
    Column("purpose", String(32), nullable=False),  # mint | release | refund | register | revoke
    Column("gas_price", String(78), nullable=False),
    Column("status", String(16), nullable=False, index=True),  # pending | mined | failed | replaced
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Recent block hashes per chain, to detect reorgs below the cursor.
block_hashes = Table(
    "block_hashes",
    metadata,
    Column("chain_id", BigInteger, primary_key=True, autoincrement=False),
    Column("block_number", BigInteger, primary_key=True, autoincrement=False),
    Column("block_hash", String(66), nullable=False),
)
