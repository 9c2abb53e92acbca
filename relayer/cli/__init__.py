"""The ``dari`` command line. Exit codes: 0 success, 1 negative answer or failure, 2 usage or configuration
error, 3 reconciliation imbalance. Each command group lives in its own module; commands of other packages
(the developer tools' ``devnet``, ``bench`` and ``demo``) come in through the ``dari.commands`` entry points."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from importlib.metadata import entry_points
from typing import Any, TypeVar

import click
from rich.console import Console

from relayer.core.errors import DariError, UsageError

F = TypeVar("F", bound=Callable[..., Any])
COMMANDS_GROUP = "dari.commands"

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def fails_cleanly(fn: F) -> F:
    """Turns the package's own errors into a message and the SPEC exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UsageError as exc:
            err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
            sys.exit(2)
        except DariError as exc:
            err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def print_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2))


@click.group()
@click.version_option(package_name="dari")
def main() -> None:
    """Dari: a compliance-enforcing bridge for tokenized securities."""


def _register() -> None:
    from relayer.cli import admin, attest, attestor, recognition, reconcile, relay, transfers
    from relayer.cli import log as log_cli

    main.add_command(attest.attest_group)
    main.add_command(recognition.recognition_group)
    main.add_command(relay.relay_command)
    main.add_command(transfers.transfers_group)
    main.add_command(admin.config_group)
    main.add_command(admin.db_group)
    main.add_command(log_cli.log_group)
    main.add_command(attestor.attestor)
    main.add_command(reconcile.reconcile_command)
    for plugin in entry_points(group=COMMANDS_GROUP):
        main.add_command(plugin.load(), plugin.name)


_register()
