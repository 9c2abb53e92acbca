"""operations, operation_history, attestations, leases, submissions, block_hashes.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "operations",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("source_chain_id", sa.BigInteger(), nullable=False),
        sa.Column("source_nonce", sa.BigInteger()),
        sa.Column("dest_chain_id", sa.BigInteger(), nullable=False),
        sa.Column("security_id", sa.String(66)),
        sa.Column("token", sa.String(42)),
        sa.Column("sender", sa.String(42)),
        sa.Column("recipient", sa.String(42)),
        sa.Column("amount", sa.String(78)),
        sa.Column("source_tx_hash", sa.String(66), nullable=False),
        sa.Column("source_block_number", sa.BigInteger(), nullable=False),
        sa.Column("source_block_hash", sa.String(66), nullable=False),
        sa.Column("source_log_index", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text()),
        sa.Column("reason", sa.String(64)),
        sa.Column("reason_code", sa.BigInteger()),
        sa.Column("locked_until", sa.BigInteger()),
        sa.Column("attestation", sa.String(66)),
        sa.Column("dest_tx_hash", sa.String(66)),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finalized_at", TS),
        sa.Column("completed_at", TS),
    )
    op.create_index("ix_operations_state", "operations", ["state"])
    op.create_index("ix_operations_next_attempt_at", "operations", ["next_attempt_at"])
    op.create_table(
        "operation_history",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("operation_id", sa.String(128), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("from_state", sa.String(32)),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text()),
    )
    op.create_index("ix_operation_history_operation_id", "operation_history", ["operation_id"])
    op.create_table(
        "attestations",
        sa.Column("digest", sa.String(66), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("operation_id", sa.String(128)),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_attestations_operation_id", "attestations", ["operation_id"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_table(
        "submissions",
        sa.Column("tx_hash", sa.String(66), primary_key=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("sender", sa.String(42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("operation_ids", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("gas_price", sa.String(78), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_submissions_status", "submissions", ["status"])
    op.create_table(
        "block_hashes",
        sa.Column("chain_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("block_hash", sa.String(66), nullable=False),
    )


def downgrade() -> None:
    for table in ("block_hashes", "submissions", "leases", "attestations", "operation_history", "operations"):
        op.drop_table(table)
