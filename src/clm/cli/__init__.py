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
    pretty_exceptions_enable=False,
    help="Customer lifecycle management: stages, value and follow-ups from your own data.",
    no_args_is_help=True,
    add_completion=False,
)


def _register() -> None:
    """Attach each command group; a group owns one module under ``clm/cli``."""
    if app.registered_commands:
        return
    from clm.cli import history, operations, pipeline, serve, value

    pipeline.register(app)
    history.register(app)
    value.register(app)
    operations.register(app)
    serve.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``clm`` script."""
    _register()
    try:
        app(args=argv, prog_name="clm")
    except ClmError as exc:
        message = " ".join(exc.message.split())  # one line, whatever the message held
        Console(stderr=True, soft_wrap=True).print(
            f"error: {message}", highlight=False, markup=False
        )
        sys.exit(2)
