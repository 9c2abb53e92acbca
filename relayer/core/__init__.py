"""The relayer's pure core: the model and the state machine, the decisions of every kind, the statements
they lead to, finality, the dispositions of delivering transactions, reconciliation arithmetic, typed
configuration and the ports the pipeline needs. No I/O library and nothing of the edges: what it needs
from the world comes through `relayer.core.ports`."""
