"""`wasmcache` as a user types it: real guests, real processes, one clear line per mistake."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

EXPECTED = (Path(__file__).parents[1] / "examples/hello_cache/expected_output.txt").read_text()


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("wasmcache: error: ")
    return lines[0]


def test_example_guest_tour_on_memory(run_cli, hello_guest: Path) -> None:
    result = run_cli("run", "--backend", "memory://", str(hello_guest))
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXPECTED


def test_guest_args_and_exit_status(run_cli, hello_guest: Path) -> None:
    found = run_cli("run", "-b", "memory://", str(hello_guest), "get", "nothing-here")
    assert found.returncode == 1
    assert found.stdout == "get nothing-here: error not-found\n"
    usage = run_cli("run", "-b", "memory://", str(hello_guest), "bogus")
    assert usage.returncode == 1
    assert "usage: hello_cache" in usage.stderr


def test_guest_flags_after_the_wasm_belong_to_the_guest(run_cli, hello_guest: Path) -> None:
    result = run_cli("run", "-b", "memory://", str(hello_guest), "get", "--backend")
    assert result.stdout == "get --backend: error not-found\n"


def test_backends_lists_memory(run_cli) -> None:
    result = run_cli("backends")
    assert result.returncode == 0
    line = next(line for line in result.stdout.splitlines() if line.startswith("memory://"))
    assert line.split()[1:3] == ["wasmcache", "0.1.0"]


def test_version_lists_core(run_cli) -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == "wasmcache 0.1.0"


@pytest.mark.parametrize("args", [[], ["run"], ["backends"]])
def test_help_on_every_command(run_cli, args: list[str]) -> None:
    result = run_cli(*args, "--help")
    assert result.returncode == 0
    assert "usage: wasmcache" in result.stdout


@pytest.mark.parametrize(
    ("make_guest", "message"),
    [
        (lambda tmp, wat: tmp / "missing.wasm", "cannot read guest"),
        (lambda tmp, wat: _write(tmp / "text.wasm", b"hello, not wasm"), "not a WebAssembly file"),
        (lambda tmp, wat: _write(tmp / "core.wasm", b"\0asm\x01\0\0\0"), "core WebAssembly module"),
        (lambda tmp, wat: _write(tmp / "cut.wasm", b"\0asm\x0d\0\x01\0\x07"),
         "not a valid component"),
        (lambda tmp, wat: wat("no_run"), "does not export wasi:cli/run"),
        (lambda tmp, wat: wat("unknown_import"), "imports acme:missing/thing@1.0.0"),
    ],
    ids=["missing", "not-wasm", "core-module", "truncated", "no-run-export", "unknown-import"],
)
def test_bad_guests_get_one_line_and_exit_2(run_cli, tmp_path: Path, wat_guest, make_guest,
                                            message: str) -> None:
    result = run_cli("run", "-b", "memory://", str(make_guest(tmp_path, wat_guest)))
    assert result.returncode == 2
    assert message in one_error_line(result.stderr)


def test_trap_gets_one_line_and_exit_3(run_cli, wat_guest) -> None:
    result = run_cli("run", "-b", "memory://", str(wat_guest("trap")))
    assert result.returncode == 3
    assert "unreachable" in one_error_line(result.stderr)


def test_run_returning_err_exits_1(run_cli, wat_guest) -> None:
    result = run_cli("run", "-b", "memory://", str(wat_guest("err")))
    assert result.returncode == 1
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("backend", "message"),
    [("foo://x", "unknown backend scheme 'foo'"),
     ("nonsense", "invalid backend URL"),
     ("gopher://a:secret@host/", "unknown backend scheme 'gopher'")],
)
def test_bad_backend_urls(run_cli, wat_guest, backend: str, message: str) -> None:
    result = run_cli("run", "-b", backend, str(wat_guest("err")))
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert message in line
    assert "secret" not in line


def test_missing_plugin_names_the_pip_install(run_cli, wat_guest) -> None:
    result = run_cli("run", "-b", "redis://127.0.0.1:6379/0", str(wat_guest("err")),
                     env={"WASMCACHE_DISABLE_PLUGINS": "redis"})
    assert result.returncode == 2
    assert "pip install wasmcache-redis" in one_error_line(result.stderr)


def test_bad_namespace(run_cli, wat_guest) -> None:
    result = run_cli("run", "-b", "memory://", "-n", "no spaces", str(wat_guest("err")))
    assert result.returncode == 2
    assert "invalid namespace" in one_error_line(result.stderr)


def test_no_backend_and_no_default_says_how_to_choose(run_cli, wat_guest) -> None:
    result = run_cli("run", str(wat_guest("err")), env={"WASMCACHE_DISABLE_PLUGINS": "disk"})
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert "--backend" in line and "WASMCACHE_BACKEND" in line


def test_backend_precedence_flag_env_file(run_cli, hello_guest: Path, tmp_path: Path) -> None:
    """--backend beats WASMCACHE_BACKEND beats wasmcache.toml: seen through where data lands."""
    ns = f"t-{uuid.uuid4().hex[:8]}"
    (tmp_path / "wasmcache.toml").write_text('backend = "nonsense-from-file://x"\n')
    from_file = run_cli("run", "-n", ns, str(hello_guest), "get", "k")
    assert "nonsense-from-file" in one_error_line(from_file.stderr)
    from_env = run_cli("run", "-n", ns, str(hello_guest), "get", "k",
                       env={"WASMCACHE_BACKEND": "env-scheme://x"})
    assert "env-scheme" in one_error_line(from_env.stderr)
    from_flag = run_cli("run", "-b", "memory://", "-n", ns, str(hello_guest), "get", "k",
                        env={"WASMCACHE_BACKEND": "env-scheme://x"})
    assert from_flag.returncode == 1
    assert from_flag.stdout == "get k: error not-found\n"


def test_config_flag_reads_the_named_file(run_cli, wat_guest, tmp_path: Path) -> None:
    config = tmp_path / "other.toml"
    config.write_text('backend = "memory://"\nnamespace = "from-file"\n')
    result = run_cli("run", "--config", str(config), str(wat_guest("err")))
    assert result.returncode == 1, result.stderr
    missing = run_cli("run", "--config", str(tmp_path / "nope.toml"), str(wat_guest("err")))
    assert missing.returncode == 2
    assert "config file not found" in one_error_line(missing.stderr)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
