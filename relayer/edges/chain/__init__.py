"""The relayer's work on each chain: the watcher (events from a persisted cursor) and the submitter
(transactions recorded before they are broadcast)."""
