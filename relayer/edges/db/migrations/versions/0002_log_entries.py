"""log_entries: the transparency log's entries, append-only (triggers refuse UPDATE and DELETE).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_REFUSAL = "log_entries is append-only"

_SQLITE_TRIGGERS = {
    "log_entries_no_update": "BEFORE UPDATE",
    "log_entries_no_delete": "BEFORE DELETE",
}


def upgrade() -> None:
    op.create_table(
        "log_entries",
        sa.Column("leaf_index", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("entry", sa.LargeBinary(32), nullable=False),
        sa.UniqueConstraint("entry", name="uq_log_entries_entry"),
        sa.CheckConstraint("leaf_index >= 0", name="ck_log_entries_leaf_index"),
        sa.CheckConstraint("length(entry) = 32", name="ck_log_entries_entry_length"),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION log_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{_REFUSAL}: % refused', TG_OP; END; $$"
        )
        op.execute(
            "CREATE TRIGGER log_entries_no_change BEFORE UPDATE OR DELETE ON log_entries "
            "FOR EACH ROW EXECUTE FUNCTION log_entries_append_only()"
        )
        op.execute(
            "CREATE TRIGGER log_entries_no_truncate BEFORE TRUNCATE ON log_entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION log_entries_append_only()"
        )
        return
    for name, timing in _SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {timing} ON log_entries BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS log_entries_no_truncate ON log_entries")
        op.execute("DROP TRIGGER IF EXISTS log_entries_no_change ON log_entries")
        op.execute("DROP FUNCTION IF EXISTS log_entries_append_only()")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("log_entries")
