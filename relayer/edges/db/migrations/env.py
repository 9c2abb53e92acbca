"""Alembic environment: runs on the connection handed over by `relayer.db.upgrade`."""

from alembic import context

from relayer.edges.db.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through relayer.db.upgrade (or `dari db upgrade`)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
