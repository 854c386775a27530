"""A misconfigured backend is refused before the guest runs: one line that says what is wrong
and how to fix it, exit 2, and the guest never starts. A server that is merely unreachable is
not a misconfiguration: the guest runs and its calls answer `unavailable`.

Every case of cases.py, through the real `wasmcache` command and the example guest (which
prints one line per call, so an empty stdout means it never started). The lines are collected
for the session summary (the table of docs/hostile-inputs.md).
"""

from __future__ import annotations

import socket
from pathlib import Path

import plugin_helpers
import pytest
from wasmcache import BackendMisconfigured, check_backend, open_backend, run_guest
from wasmcache.testing.contract import unique_namespace
from wasmcache.testing.hardening import report

from .cases import MISCONFIGURED, UNREACHABLE, Case, arranged, one_error_line
from .servers import PASSWORD, WRONG_QUOTED


@pytest.mark.parametrize("case", MISCONFIGURED, ids=lambda case: case.id)
def test_misconfiguration_is_one_line_and_exit_2_before_the_guest_starts(
        case: Case, request: pytest.FixtureRequest, hello_guest: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    with arranged(case, request) as url:
        done = run_cli("run", "--backend", url, "--namespace", unique_namespace(),
                       str(hello_guest), "set", "k", "v")
    line = one_error_line(done.stderr)
    report(f"{case.id}: exit {done.returncode}: {line}")
    assert done.returncode == 2
    assert done.stdout == ""  # the guest never started
    for word in case.expect:
        assert word in line, (word, line)


@pytest.mark.parametrize("case", UNREACHABLE, ids=lambda case: case.id)
def test_unreachable_server_still_runs_the_guest(case: Case, request: pytest.FixtureRequest,
                                                 hello_guest: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    with arranged(case, request) as url:
        done = run_cli("run", "--backend", url, "--namespace", unique_namespace(),
                       str(hello_guest), "get", "k")
    lines = done.stderr.splitlines()
    report(f"{case.id}: exit {done.returncode}: {done.stdout.strip()} | {lines[0]}")
    assert (done.returncode, done.stdout) == (1, "get k: error unavailable\n"), done.stderr
    assert lines[0].startswith("wasmcache: WARNING: the backend cannot be reached now")
    assert all(line.startswith("wasmcache: WARNING: ") for line in lines), done.stderr


def test_config_check_connect(tls_redis, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """`config check --connect`: 0 and `ok` as configured, 2 and one line when misconfigured,
    1 when unreachable now; the password comes from a file, as an operator would keep it."""
    secret = tmp_path / "redis-password"
    secret.write_text(PASSWORD + "\n")
    config = tmp_path / "wasmcache.toml"

    def check(url: str) -> tuple[int, str, str]:
        config.write_text(f'backend = "{url}"\nbackend_password_file = "redis-password"\n')
        done = run_cli("config", "check", "--connect", str(config))
        return done.returncode, done.stdout, done.stderr

    code, out, err = check(tls_redis.tls_url(password=None))
    assert (code, err) == (0, ""), err
    assert out.startswith(f"{config}: ok (0 guest profiles); backend rediss://:***@127.0.0.1:")
    assert out.rstrip().endswith(": ok"), out
    code, out, err = check(tls_redis.tls_url(password=None, db=99))
    assert code == 2 and out == "", err
    assert "no database 99" in one_error_line(err)
    code, out, err = check(f"rediss://127.0.0.1:{plugin_helpers.REDIS.free_port()}/0")
    assert code == 1, err
    assert out.rstrip().endswith(": unreachable now"), out
    assert err.startswith("wasmcache: WARNING: the backend cannot be reached now"), err


def test_embedders_get_the_same_check(tls_redis, wat_guest) -> None:  # type: ignore[no-untyped-def]
    """open_backend(url, check=True) and run_guest raise BackendMisconfigured themselves."""
    url = tls_redis.tls_url(password=WRONG_QUOTED)
    with pytest.raises(BackendMisconfigured, match="refused the login"):
        open_backend(url, check=True)
    with pytest.raises(BackendMisconfigured, match="refused the login"):
        run_guest(wat_guest("visits"), url)
    backend = open_backend(tls_redis.tls_url(), check=True)
    backend.close()


@pytest.mark.parametrize("url", [
    "redis://127.0.0.1:{port}/0?socket_connect_timeout=1&socket_timeout=1",
    "rediss://127.0.0.1:{port}/0?socket_connect_timeout=1&socket_timeout=1",
    "redis+cluster://127.0.0.1:{port}?socket_connect_timeout=1&socket_timeout=1",
    "postgresql+psycopg://u@127.0.0.1:{port}/db?connect_timeout=2",
    "mysql+pymysql://u@127.0.0.1:{port}/db?connect_timeout=1&io_timeout=1",
], ids=["redis", "rediss", "redis-cluster", "postgresql", "mariadb"])
def test_a_server_that_never_answers_is_unreachable_not_misconfigured(
        url: str, caplog: pytest.LogCaptureFixture) -> None:
    """A listener that accepts TCP and never speaks (a hung server): the check times out and
    says `unavailable` (one warning), it does not refuse the run."""
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(16)
        backend = open_backend(url.format(port=mute.getsockname()[1]))
        try:
            assert check_backend(backend) is False
        finally:
            backend.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "wasmcache.preflight"]
    assert len(warnings) == 1 and "cannot be reached now" in warnings[0], warnings
