"""The relayer's database (SQLAlchemy Core on SQLite or PostgreSQL): engine and migrations, schema, the
operations store, watcher cursors, the leadership lease, the transparency log's entries, submissions."""
