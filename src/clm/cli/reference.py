"""The CLI reference (``docs/cli.md``), rendered from the commands themselves.

A test compares the file with this rendering, so a command or option that is added, renamed or
re-described without updating the docs fails the suite. Regenerate with
``python -m clm.cli.reference > docs/cli.md``.
"""

from __future__ import annotations

import datetime as dt
import enum
from pathlib import Path

import typer.main

HEADER = """# Command reference

Generated from the commands' own help by `python -m clm.cli.reference > docs/cli.md`;
a test keeps it in step. Every command prints errors a user can fix as one line and exits
with status 2; `clm run` exits 0 when it ran, even with quarantined rows.
"""


def _walk(command, path: list[str]):
    yield path, command
    if hasattr(command, "commands"):
        for name in sorted(command.commands):
            yield from _walk(command.commands[name], [*path, name])


def _kind(param) -> str:
    """A reader's name for the value an option takes (Typer vendors its own click)."""
    if getattr(param, "is_flag", False):
        return "flag"
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    names = {
        Path: "path",
        dt.datetime: "date YYYY-MM-DD",
        dt.date: "date YYYY-MM-DD",
        int: "integer",
        float: "number",
        str: "text",
    }
    if annotation in names:
        return names[annotation]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(str(m.value) for m in annotation)
    return getattr(annotation, "__name__", "text")


def _param_row(param) -> str:
    if param.param_type_name == "option":
        names = ", ".join(f"`{o}`" for o in param.opts + param.secondary_opts)
        kind = _kind(param)
        required = "yes" if param.required else "no"
        default = "" if param.required or param.default in (None, False) else f"`{param.default}`"
        help_text = (param.help or "").replace("|", "\\|")
        return f"| {names} | {kind} | {required} | {default} | {help_text} |"
    return f"| `{param.name.upper()}` | argument | yes | | |"


def render_reference() -> str:
    """The Markdown reference of every ``clm`` command and option."""
    from clm.cli import _register, app

    _register()
    root = typer.main.get_command(app)
    parts = [HEADER]
    for path, command in _walk(root, ["clm"]):
        if hasattr(command, "commands") and path != ["clm"]:
            parts.append(f"\n## `{' '.join(path)}`\n\n{(command.help or '').strip()}\n")
            continue
        if path == ["clm"]:
            continue
        parts.append(f"\n### `{' '.join(path)}`\n\n{(command.help or '').strip()}\n")
        params = [p for p in command.params if p.name != "help"]
        if params:
            parts.append("\n| option | type | required | default | meaning |")
            parts.append("|---|---|---|---|---|")
            parts.extend(_param_row(p) for p in params)
            parts.append("")
    return "\n".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    print(render_reference(), end="")
