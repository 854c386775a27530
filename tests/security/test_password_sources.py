"""The backend password kept out of wasmcache.toml and off the command line.

`backend_password_file` / `backend_password_env` in the config, `WASMCACHE_BACKEND_PASSWORD_FILE`
/ `WASMCACHE_BACKEND_PASSWORD` in the environment (wasmcache.credentials): the example guest
runs on the private TLS servers with the password coming from each; every way to get it wrong
is one line and exit 2; `config show` says where the password comes from, never what it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from wasmcache import WasmcacheError
from wasmcache.credentials import PasswordSource, mask_url, redact, secrets_of, with_password
from wasmcache.testing.contract import unique_namespace

from .cases import one_error_line
from .servers import PASSWORD, QUOTED


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets" / "backend-password"
    path.parent.mkdir()
    path.write_text(PASSWORD + "\n")  # as `echo ... > file` writes it
    path.chmod(0o600)
    return path


@pytest.mark.slow
def test_the_tour_runs_with_the_password_from_each_source(tls_redis, tls_postgres,  # type: ignore[no-untyped-def]
                                                          secret_file: Path, tmp_path: Path,
                                                          hello_guest: Path, run_cli,
                                                          tour: str) -> None:
    redis_url, pg_url = tls_redis.tls_url(password=None), tls_postgres.tls_url(password=None)
    config = tmp_path / "wasmcache.toml"
    runs = [
        (redis_url, 'backend_password_file = "secrets/backend-password"\n', {}),
        (pg_url, 'backend_password_env = "PG_PASSWORD"\n', {"PG_PASSWORD": PASSWORD}),
        (pg_url, "", {"WASMCACHE_BACKEND_PASSWORD_FILE": str(secret_file)}),
        (redis_url, "", {"WASMCACHE_BACKEND_PASSWORD": PASSWORD}),
        # the environment beats the file, as WASMCACHE_BACKEND beats `backend`
        (redis_url, 'backend_password_env = "UNSET_HERE"\n',
         {"WASMCACHE_BACKEND_PASSWORD_FILE": str(secret_file)}),
    ]
    for url, toml, env in runs:
        config.write_text(f'backend = "{url}"\n' + toml)
        done = run_cli("run", "--namespace", unique_namespace(), str(hello_guest), env=env)
        assert (done.returncode, done.stderr) == (0, ""), (toml, env, done.stderr)
        assert done.stdout == tour
        assert PASSWORD not in url and QUOTED not in url


@pytest.mark.parametrize(("toml", "env", "words"), [
    ('backend_password_file = "missing"\n', {}, "cannot read the password file"),
    ('backend_password_file = "empty"\n', {}, "is empty"),
    ('backend_password_env = "NOT_SET_ANYWHERE"\n', {}, "NOT_SET_ANYWHERE is not set"),
    ('backend_password_env = "no such name"\n', {}, "expected an environment variable's name"),
    ("", {"WASMCACHE_BACKEND_PASSWORD": "x", "WASMCACHE_BACKEND_PASSWORD_FILE": "f"},
     "unset one of them"),
    ("", {"WASMCACHE_BACKEND_PASSWORD_FILE": ""}, "set but empty"),
], ids=["missing-file", "empty-file", "unset-variable", "bad-variable-name", "two-variables",
        "empty-variable"])
def test_a_missing_password_is_one_line(toml: str, env: dict[str, str], words: str,  # type: ignore[no-untyped-def]
                                        tmp_path: Path, wat_guest, run_cli) -> None:
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "wasmcache.toml").write_text('backend = "redis://127.0.0.1:6379/0"\n' + toml)
    done = run_cli("run", str(wat_guest("err")), env=env)
    assert done.returncode == 2
    assert words in one_error_line(done.stderr)


@pytest.mark.parametrize(("url", "words"), [
    (f"redis://:{QUOTED}@127.0.0.1:6379/0", "already holds a password"),
    ("memory://", "memory:// URLs (wasmcache) take none"),
    ("sqlite:///cache.db", "sqlite:// URLs (wasmcache-sql) take none"),
    ("disk://cache", "disk:// URLs (wasmcache-disk) take none"),
])
def test_a_password_where_none_fits_is_refused(url: str, words: str, secret_file: Path,  # type: ignore[no-untyped-def]
                                               wat_guest, run_cli) -> None:
    done = run_cli("run", "--backend", url, str(wat_guest("err")),
                   env={"WASMCACHE_BACKEND_PASSWORD_FILE": str(secret_file)})
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert words in line and PASSWORD not in line and QUOTED not in line


@pytest.mark.usefixtures("secret_file")
def test_config_show_says_where_the_password_is_not_what(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "wasmcache.toml").write_text(
        'backend = "rediss://app@db.example:6380/2"\n'
        'backend_password_file = "secrets/backend-password"\n')
    done = run_cli("config", "show")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert 'backend = "rediss://app:***@db.example:6380/2"' in lines
    assert ("# backend password: from file secrets/backend-password "  # next to the file
            "(wasmcache.toml: backend_password_file)") in lines
    assert PASSWORD not in done.stdout and QUOTED not in done.stdout


def test_splicing_masking_and_redacting(secret_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The password lands percent-encoded in the userinfo, whatever the URL looks like, and
    every way of printing a URL hides it (also when someone forgot to percent-encode it)."""
    source = PasswordSource("file", str(secret_file), "test")
    assert with_password("redis://h:1/0", source) == f"redis://:{QUOTED}@h:1/0"
    assert with_password("rediss://u@h/0?x=1", source) == f"rediss://u:{QUOTED}@h/0?x=1"
    assert with_password("unix:///run/redis.sock?db=1", source) == \
        f"unix://:{QUOTED}@/run/redis.sock?db=1"
    assert with_password("postgresql+psycopg://app@db/x", source) == \
        f"postgresql+psycopg://app:{QUOTED}@db/x"
    for url in (f"redis://:{QUOTED}@h/0", f"redis://:{PASSWORD}@h/0",
                f"postgresql://u:{PASSWORD}@h/db?sslpassword={QUOTED}",
                f":{PASSWORD}@h:1/0"):
        masked = mask_url(url)
        assert PASSWORD not in masked and QUOTED not in masked, masked
        assert "***" in masked
        assert PASSWORD in secrets_of(url) or QUOTED in secrets_of(url)
        assert PASSWORD not in redact(f"failed: {PASSWORD} / {QUOTED}", url)
    assert mask_url("unix:///run/a:b@c/redis.sock") == "unix:///run/a:b@c/redis.sock"
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(WasmcacheError, match="NOT_SET_ANYWHERE is not set"):
        PasswordSource("env", "NOT_SET_ANYWHERE", "test").read()
