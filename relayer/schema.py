"""Table definitions (SQLAlchemy Core); migrations under ``relayer/migrations`` create them."""

from sqlalchemy import BigInteger, Column, DateTime, MetaData, String, Table

metadata = MetaData()

chain_cursors = Table(
    "chain_cursors",
    metadata,
    Column("chain_id", BigInteger, primary_key=True, autoincrement=False),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", String(66), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
