"""``python -m relayer`` runs the ``dari`` command line."""

from relayer.cli import main

main()
