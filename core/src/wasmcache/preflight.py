"""The check before a guest runs: a misconfigured backend stops the run, an unreachable one not.

A backend may offer ``check() -> None`` (docs/backends.md, section 5): it contacts its store
once and raises `BackendMisconfigured` (one line: what is wrong, how to fix it) when the store
answered but cannot be used as configured, `BackendUnavailable` when it cannot be reached now.
`check_backend` is the core's one call of it (from `run_guest`, `open_backend(url,
check=True)` and ``wasmcache config check --connect``). A wrong password or an untrusted
certificate then ends the run with exit 2 before the guest starts, instead of every call
answering ``internal`` to a guest that may retry forever; a server that is down still lets the
guest run, and its calls answer ``unavailable`` until the server is back.

The helpers below phrase the failures every TLS client shares, for plugins' ``check``.
"""

from __future__ import annotations

import logging
import os
from typing import TypeVar

from .backend import Backend
from .errors import BackendMisconfigured, BackendUnavailable

log = logging.getLogger("wasmcache.preflight")

E = TypeVar("E", bound=BaseException)


def check_backend(backend: Backend) -> bool:
    """Run the backend's ``check`` if it has one; True when the store answered (or there is
    nothing to check), False when it is unreachable now (logged once as a warning).

    `BackendMisconfigured` propagates. Any other exception from ``check`` is a fault of the
    plugin; it becomes `BackendMisconfigured` too, so the command still ends in one line.
    """
    check = getattr(backend, "check", None)
    if check is None:
        return True
    try:
        check()
    except BackendUnavailable as exc:
        log.warning("the backend cannot be reached now (%s); the guest's calls answer "
                    "`unavailable` until it is back", _one_line(str(exc)))
        return False
    except BackendMisconfigured:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin's bug must not become a traceback
        raise BackendMisconfigured(f"the backend's check failed: {type(exc).__name__}: "
                                   f"{_one_line(str(exc))}") from exc
    return True


def find_cause(exc: BaseException, kind: type[E] | tuple[type[E], ...]) -> E | None:
    """The first exception of `kind` in the chain `exc` was raised from (clients wrap socket
    and TLS errors in their own), or None."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, kind):
            return seen  # type: ignore[return-value]
        seen = seen.__cause__ or seen.__context__
    return None


def tls_problem(server: str, reason: str, ca_option: str) -> str:
    """One line for a server certificate that failed verification, with the likely fix.

    `reason` is what the TLS library said (``certificate has expired``, ``IP address
    mismatch, ...``, ``self-signed certificate in certificate chain``, ...); `ca_option` names
    the URL option that gives the CA (``ssl_ca_certs``, ``sslrootcert``, ``ssl_ca``).
    """
    reason = _one_line(reason)
    low = reason.lower()
    if "expired" in low:
        fix = "the server's certificate has expired: renew it on the server"
    elif "not yet valid" in low:
        fix = "the server's certificate is not valid yet: check both machines' clocks"
    elif "mismatch" in low or "does not match" in low or "hostname" in low:
        fix = ("the certificate was issued for another name: connect by a name it holds, or "
               "have the server's certificate issued for this one")
    elif "self-signed" in low or "issuer" in low or "unknown ca" in low:
        fix = (f"it is not signed by a CA this client trusts: give {ca_option}=PATH, the CA "
               "that signed the server's certificate")
    else:
        fix = (f"check {ca_option}=PATH (the CA that signed the server's certificate), the "
               "certificate's dates and the names it holds")
    return f"TLS verification of {server} failed ({reason}): {fix}"


def require_readable(option: str, path: str, what: str) -> None:
    """Refuse (one line, at open) a TLS file option whose file cannot be read; a client
    library would report it at connect time, mistaken for an outage."""
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        problem = "no such file" if not os.path.exists(path) else "not a readable file"
        raise BackendMisconfigured(f"{what} option {option!r}: {path!r}: {problem}")


def _one_line(text: str) -> str:
    return " ".join(text.split())
