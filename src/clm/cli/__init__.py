"""The ``clm`` command line: thin commands over the services.

Errors a user can cause (``ClmError``) are printed as one line in their own terms and exit
with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from clm.errors import ClmError

app = typer.Typer(
    name="clm",
    help="Customer lifecycle management: stages, value and follow-ups from your own data.",
    no_args_is_help=True,
    add_completion=False,
)


def _register() -> None:
    """Attach each command group; a group owns one module under ``clm/cli``."""
    from clm.cli import pipeline

    pipeline.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``clm`` script."""
    _register()
    try:
        app(args=argv, standalone_mode=False)
    except ClmError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc.message}", highlight=False)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click's usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        raise
