"""Run the ``wasmcache`` command in-process, for tests that try many command lines quickly.

    result = invoke(["run", "--backend", "memory://", "guest.wasm"])
    result.exit_code, result.stdout, result.stderr

Like the console script, but its ``sys.stdout`` and ``sys.stderr`` are captured (a guest's own
output goes to the process's file descriptors, as in a real run: read it with pytest's
``capfd``) and `env` changes ``os.environ`` for the call only (None removes a variable).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from ..cli import main


@dataclass(frozen=True)
class CliResult:
    """What one in-process ``wasmcache`` command did."""

    exit_code: int
    stdout: str
    stderr: str
    #: an exception that escaped the command (a traceback a user would have seen), else None
    exception: BaseException | None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@contextlib.contextmanager
def _environment(env: Mapping[str, str | None]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in env}
    try:
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def invoke(args: Sequence[str], env: Mapping[str, str | None] | None = None) -> CliResult:
    """Run ``wasmcache ARGS`` in this process and return its exit status and output."""
    out, err = io.StringIO(), io.StringIO()
    exception: BaseException | None = None
    code = 0
    with _environment(env or {}), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception as exc:  # noqa: BLE001 - reported to the test, as a traceback would be
            exception, code = exc, 1
    return CliResult(code, out.getvalue(), err.getvalue(), exception)
