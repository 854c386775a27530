"""Backend passwords kept out of sight: read from a file or a variable, never printed.

A password in ``wasmcache.toml`` or on the command line is seen by anyone who can read the file
or run ``ps``. Instead, the operator names where it is, and wasmcache splices it into the
backend URL when the command starts:

* ``backend_password_file = "/run/secrets/redis"`` or ``backend_password_env = "REDIS_PASSWORD"``
  in ``wasmcache.toml`` (one of the two; a relative file is relative to the config file);
* ``$WASMCACHE_BACKEND_PASSWORD_FILE`` or ``$WASMCACHE_BACKEND_PASSWORD``, which beat the file
  (as ``$WASMCACHE_BACKEND`` beats ``backend``).

The password goes, percent-encoded, into the userinfo of whichever URL the run uses
(``redis://user@host`` becomes ``redis://user:PASSWORD@host``); a URL that already holds a
password, or whose backend takes none, is refused in one line. One trailing newline of a file
is dropped (``echo secret > file``). Every message and `config show` print URLs through
`mask_url`, and opener errors pass through `redact`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from .errors import WasmcacheError

PASSWORD_ENV = "WASMCACHE_BACKEND_PASSWORD"
PASSWORD_FILE_ENV = "WASMCACHE_BACKEND_PASSWORD_FILE"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Query options whose value is a secret (``password=``, ``sslpassword=``, ``ssl_key_password``).
SECRET_OPTION = re.compile(r"pass(word|wd)?|secret|token", re.IGNORECASE)
MASK = "***"


@dataclass(frozen=True)
class PasswordSource:
    """Where the backend's password is: a file or an environment variable (never the password).

    :param kind: ``"file"`` or ``"env"``.
    :param where: the file's path or the variable's name.
    :param origin: what configured it, for messages (``wasmcache.toml: backend_password_file``).
    """

    kind: str
    where: str
    origin: str

    def describe(self) -> str:
        return f"file {self.where}" if self.kind == "file" else f"${self.where}"

    def read(self) -> str:
        """The password; a one-line `WasmcacheError` naming the source when it is missing."""
        if self.kind == "env":
            value = os.environ.get(self.where)
            if value is None:
                raise WasmcacheError(f"{self.origin}: the environment variable {self.where} "
                                     "is not set")
        else:
            try:
                value = Path(self.where).read_text(encoding="utf-8")
            except OSError as exc:
                raise WasmcacheError(f"{self.origin}: cannot read the password file "
                                     f"{self.where!r}: {exc.strerror}") from None
            except UnicodeDecodeError:
                raise WasmcacheError(f"{self.origin}: the password file {self.where!r} is not "
                                     "UTF-8 text") from None
            value = value.removesuffix("\n").removesuffix("\r")
        if not value:
            raise WasmcacheError(f"{self.origin}: the password in {self.describe()} is empty")
        return value


def from_environment() -> PasswordSource | None:
    """The password source the environment names, if any (both variables at once: an error)."""
    value_set = os.environ.get(PASSWORD_ENV) is not None
    path = os.environ.get(PASSWORD_FILE_ENV)
    if value_set and path is not None:
        raise WasmcacheError(f"both {PASSWORD_ENV} and {PASSWORD_FILE_ENV} are set: "
                             "unset one of them")
    if path is not None:
        if not path:
            raise WasmcacheError(f"{PASSWORD_FILE_ENV} is set but empty: give a file name")
        return PasswordSource("file", path, f"${PASSWORD_FILE_ENV}")
    if value_set:
        return PasswordSource("env", PASSWORD_ENV, f"${PASSWORD_ENV}")
    return None


def with_password(url: str, source: PasswordSource) -> str:
    """`url` with the password from `source` in its userinfo, percent-encoded.

    Refuses a URL that already holds a password, and one whose backend takes none (so a
    password can never end up in a directory name or a memory:// store name).
    """
    from .plugins import get_registry  # here: config -> credentials -> plugins stays acyclic

    entry = get_registry().lookup(url)
    scheme, _sep, rest = url.partition("://")
    if not entry.spec.accepts_password:
        raise WasmcacheError(f"{source.origin} gives a password, but {scheme}:// URLs "
                             f"({entry.distribution}) take none: remove it or use a backend "
                             "that logs in")
    authority = _authority(rest)
    userinfo, at, _host = authority.rpartition("@")
    if ":" in userinfo or ambiguous_userinfo(url):
        raise WasmcacheError(f"the backend URL {mask_url(url)} already holds a password and "
                             f"{source.origin} gives another: keep only one")
    start = len(userinfo) + len(at)
    return f"{scheme}://{userinfo}:{quote(source.read(), safe='')}@{rest[start:]}"


def _authority(rest: str) -> str:
    """The authority of a well-formed URL (`rest` is what follows ``://``): up to / ? or #."""
    end = min((index for index in map(rest.find, "/?#") if index >= 0), default=len(rest))
    return rest[:end]


def ambiguous_userinfo(url: str) -> bool:
    """True when `url` seems to hold a password with a reserved character left unencoded
    (``redis://:pa/ss@host``): an '@' after the authority, and a ':' (but no query option)
    before it. Client libraries would read a different host, port or path than was meant."""
    rest = url.partition("://")[2]
    if rest.startswith("/") or "@" in _authority(rest):
        return False
    before = rest[:max(rest.rfind("@"), 0)]
    return ":" in before and "=" not in before


def _masked_span(rest: str) -> tuple[int, int] | None:
    """Where the password is in `rest` (after ``://``), read generously so that a password
    with unencoded '/', '?' or '@' is still covered: from the first ':' to the last '@'. A
    URL with an empty authority (``unix:///path``, ``sqlite:////path``) holds none."""
    at = rest.rfind("@")
    if rest.startswith("/") or at < 0 or ":" not in rest[:at]:
        return None
    return rest.index(":") + 1, at


def mask_url(url: str) -> str:
    """The URL with its password, and the values of secret query options, replaced by ***
    (for messages and `config show`; generous rather than exact, see `_masked_span`)."""
    scheme, sep, rest = url.partition("://")
    if not sep:  # not a URL at all; mask what looks like a forgotten scheme's ":password@"
        span = _masked_span(url)
        return url if span is None else url[:span[0]] + MASK + url[span[1]:]
    span = _masked_span(rest)
    if span is not None:
        rest = rest[:span[0]] + MASK + rest[span[1]:]
    head, qsep, query = rest.partition("?")
    if qsep:
        pairs = []
        for pair in query.split("&"):
            name, eq, _value = pair.partition("=")
            pairs.append(f"{name}={MASK}" if eq and SECRET_OPTION.search(unquote(name))
                         else pair)
        rest = head + "?" + "&".join(pairs)
    return f"{scheme}://{rest}"


def secrets_of(url: str) -> list[str]:
    """The secrets `url` holds (its password, secret query values), raw and percent-decoded."""
    scheme, sep, rest = url.partition("://")
    rest = rest if sep else scheme
    found = []
    span = _masked_span(rest)
    if span is not None:
        found.append(rest[span[0]:span[1]])
    for pair in rest.partition("?")[2].split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and SECRET_OPTION.search(unquote(name)):
            found.append(value)
    return sorted({form for secret in found for form in (secret, unquote(secret)) if form},
                  key=len, reverse=True)


def redact(text: str, url: str) -> str:
    """`text` with every secret of `url` replaced by ***: for messages a client library
    built, which may quote the URL it was given."""
    for secret in secrets_of(url):
        text = text.replace(secret, MASK)
    return text
