"""No password, token or private key in anything wasmcache prints.

One test walks every refusal and failure path there is (cases.py, bad URLs, password sources
that are missing, `config show`, `config check --connect`, `--stats`, guest calls failing at
run time), each with a recognisable password, and searches everything printed for the
passwords (raw and percent-encoded) and for the private keys' contents: the command's stdout
and stderr, the guest's own output (file descriptors 1 and 2) and every log record at DEBUG
level, the libraries' included (what ``-vv`` prints). The command runs in-process
(`wasmcache.testing.cli.invoke`), one command per path, so the walk takes seconds, not minutes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from wasmcache.testing.cli import invoke
from wasmcache.testing.contract import unique_namespace
from wasmcache.testing.tls import TestPki

from .cases import MISCONFIGURED, UNREACHABLE, arranged
from .servers import ACL_USER, PASSWORD, QUOTED, WRONG_PASSWORD, WRONG_QUOTED

CONFIG_COMMAND_CASES = {"redis-wrong-password", "redis-wrong-ca", "cluster-wrong-password",
                        "postgresql-wrong-password", "postgresql-without-tls",
                        "mariadb-wrong-password", "mariadb-expired-certificate",
                        "redis-nothing-listening", "postgresql-nothing-listening"}


def _key_material(pki: TestPki) -> list[str]:
    """The lines of every private key file (the base64 body and the PEM armour)."""
    lines = ["PRIVATE KEY"]
    for pair in (pki.server, pki.client, pki.expired, pki.wrong_host):
        lines += [line for line in pair.key.read_text().splitlines()
                  if line and not line.startswith("-----")]
    return lines


def test_no_secret_in_any_output(request: pytest.FixtureRequest, hello_guest: Path,  # type: ignore[no-untyped-def]
                                 tmp_path: Path, wasmcache_test_pki: TestPki, tls_redis,
                                 monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
                                 caplog: pytest.LogCaptureFixture) -> None:
    pki = wasmcache_test_pki
    outputs: list[tuple[str, str]] = []  # (what ran, everything it printed)
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)

    def run(label: str, *args: str, env: dict[str, str] | None = None) -> None:
        caplog.clear()
        capfd.readouterr()
        done = invoke(["-vv", *args],
                                  env={"WASMCACHE_BACKEND": None, **(env or {})})
        assert done.exception is None or isinstance(done.exception, SystemExit), \
            (label, done.exception)
        guest = capfd.readouterr()
        outputs.append((label, "\n".join((done.stdout, done.stderr, guest.out, guest.err,
                                          caplog.text))))

    guest = str(hello_guest)
    # every misconfiguration and outage, with the statistics printed at the end; the config
    # commands for one case of each kind
    config = tmp_path / "wasmcache.toml"
    for case in MISCONFIGURED + UNREACHABLE:
        with arranged(case, request) as url:
            run(case.id, "run", "--stats", "--backend", url, "-n", unique_namespace(), guest,
                "set", "k", "v")
            if case.id in CONFIG_COMMAND_CASES:
                config.write_text(f'backend = "{url}"\n')
                run(f"{case.id} config show", "config", "show")
                run(f"{case.id} config check --connect", "config", "check", "--connect")
                config.unlink()
    # guest calls that fail at run time: the ACL user may not touch keys outside its prefix
    run("calls refused by the ACL (internal)", "run", "--stats", "--backend",
        tls_redis.tls_url(user=ACL_USER, prefix="outside:"), "-n", unique_namespace(), guest)
    # a successful tour, debug logs included
    run("a verified tour", "run", "--stats", "--backend", tls_redis.tls_url(), guest)
    # bad URLs that hold a password
    for url in (f"rediss://:{QUOTED}@[::1", f"rediss://:{QUOTED}@127.0.0.1:notaport/0",
                f"rediss://:{PASSWORD}@127.0.0.1:{tls_redis.port}/0",  # unencoded: ambiguous
                f"rediss://:{QUOTED}@127.0.0.1:{tls_redis.port}/abc",
                f"rediss://:{QUOTED}@127.0.0.1:{tls_redis.port}/0?prefx=1",
                f"redis+cluster://:{QUOTED}@127.0.0.1:1/3",
                f"postgresql+psycopg://u:{QUOTED}@[::1/db",
                f"postgresql+psycopg://u:{QUOTED}@127.0.0.1:5432/db?connect_timeout=soon",
                f"mysql+pymysql://u:{QUOTED}@127.0.0.1:99999999/x",
                f"mysql+pymysql://u:{QUOTED}@127.0.0.1:3306/x?ssl_ca=/nonexistent",
                f"sqlite:///{tmp_path}/x.db?password={QUOTED}",
                f"gopher://u:{QUOTED}@host/", f":{QUOTED}@127.0.0.1:6379/0"):
        run(f"bad URL {url}", "run", "--backend", url, guest)
    # password sources: missing, empty, unset, conflicting, for a backend that takes none
    secret_file = tmp_path / "secret"
    secret_file.write_text(PASSWORD + "\n")
    empty = tmp_path / "empty"
    empty.write_text("")
    bare = tls_redis.tls_url(password=None)
    for label, url, env in (
            ("file", bare, {"WASMCACHE_BACKEND_PASSWORD_FILE": str(secret_file)}),
            ("wrong value", bare, {"WASMCACHE_BACKEND_PASSWORD": WRONG_PASSWORD}),
            ("missing file", bare, {"WASMCACHE_BACKEND_PASSWORD_FILE": str(tmp_path / "no")}),
            ("empty file", bare, {"WASMCACHE_BACKEND_PASSWORD_FILE": str(empty)}),
            ("two sources", bare, {"WASMCACHE_BACKEND_PASSWORD": PASSWORD,
                                   "WASMCACHE_BACKEND_PASSWORD_FILE": str(secret_file)}),
            ("URL holds one too", tls_redis.tls_url(), {"WASMCACHE_BACKEND_PASSWORD": PASSWORD}),
            ("backend takes none", "memory://", {"WASMCACHE_BACKEND_PASSWORD": PASSWORD}),
            ("sqlite takes none", f"sqlite:///{tmp_path}/y.db",
             {"WASMCACHE_BACKEND_PASSWORD_FILE": str(secret_file)})):
        run(f"password source: {label}", "run", "--stats", "--backend", url, guest, env=env)
        run(f"password source: {label} config show", "config", "show", "--backend", url,
            env=env)
    run("config show of a URL with a password", "config", "show", "--backend",
        tls_redis.tls_url())

    secrets = [PASSWORD, QUOTED, WRONG_PASSWORD, WRONG_QUOTED, *_key_material(pki)]
    leaks = [(label, secret) for label, text in outputs for secret in secrets if secret in text]
    assert not leaks, leaks
    silent = [label for label, text in outputs if not text.strip()]
    assert not silent, silent  # every path printed something: the search had text to search
    assert len(outputs) > 70, len(outputs)
    # the masked forms are there instead: the search would have found an unmasked password
    assert sum(":***@" in text for _label, text in outputs) > 20
