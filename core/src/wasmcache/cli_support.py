"""Click shaped to the README's promise: a mistake on the command line is one line, exit 2.

Click prints a usage error as three lines (usage, a hint, ``Error: ...``) and accepts any float
a `FloatRange` compares true with (NaN compares false with everything, so ``--timeout nan``
passed). `OneLineErrors` prints ``wasmcache: error: ...`` instead, and `Seconds` takes only a
finite positive number of seconds.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .config import seconds_problem

ERROR_PREFIX = "wasmcache: error: "


def error_line(message: str) -> str:
    """``wasmcache: error: MESSAGE`` as one line whatever the message quotes: a line break or
    other control character a user typed (a URL with a NEL, say) is shown escaped."""
    shown = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                    for ch in message)
    return ERROR_PREFIX + shown


class OneLineErrors(click.Group):
    """A group whose usage errors (bad flag or value, missing argument, unknown command) are
    one line on stderr and exit 2, like every other mistake of the ``wasmcache`` command."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:  # the caller handles click's exceptions itself
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
                exc.show()  # `wasmcache` or `wasmcache config` alone: the help, as click does
            else:
                click.echo(error_line(one_line(exc)), err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def one_line(exc: click.ClickException) -> str:
    """Click's message on one line, with where to find help for a usage error."""
    message = exc.format_message().replace("\n", " ")
    if isinstance(exc, click.UsageError):
        ctx = getattr(exc, "ctx", None)
        message += f" (see `{ctx.command_path if ctx is not None else 'wasmcache'} --help`)"
    return message


class Seconds(click.ParamType):
    """A finite, positive number of seconds (`wasmcache.config.seconds_problem`)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, float):
            number = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number of seconds", param, ctx)
        problem = seconds_problem(number)
        if problem:
            self.fail(problem, param, ctx)
        return number
