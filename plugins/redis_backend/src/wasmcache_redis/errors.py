"""Which redis-py exceptions mean "Redis cannot be reached now" (the guest's `unavailable`).

Everything that says the server is refused, timed out, dropped, still loading its data, out of
pool connections, or a cluster that is down, resharding or failing over becomes
`wasmcache.BackendUnavailable`. A wrong password, a missing ACL permission or a TLS certificate
that fails verification is a configuration fault, not an outage: it propagates like any other
error and the guest sees `internal` (and `wasmcache_redis.check` refuses it before a guest
runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from ssl import SSLCertVerificationError

from redis import exceptions as rex
from wasmcache import BackendUnavailable
from wasmcache.preflight import find_cause

#: Raised by redis-py's ConnectionError family but not outages: retrying will not help.
NOT_OUTAGES: tuple[type[BaseException], ...] = (
    rex.AuthenticationError,
    rex.AuthorizationError,
    rex.AuthenticationWrongNumberOfArgsError,
)

OUTAGES: tuple[type[BaseException], ...] = (
    rex.ConnectionError,  # refused, reset, BusyLoadingError, MaxConnectionsError
    rex.TimeoutError,
    rex.ClusterError,  # ClusterDownError, MasterDownError, redirect TTL exhausted
    rex.SlotNotCoveredError,
    rex.TryAgainError,
    rex.ReadOnlyError,  # a replica answering during a failover
    OSError,  # a socket or TLS error redis-py did not wrap
)

#: RedisClusterException is also raised for usage errors, so only this message means "down"
#: (unless the node answered that it is no cluster node: a wrong URL, not an outage).
CLUSTER_UNREACHABLE = "cannot be connected"
NOT_A_CLUSTER = "cluster mode is not enabled"


def is_outage(exc: BaseException) -> bool:
    """True when `exc` means the store cannot be reached now (so `unavailable`, not `internal`)."""
    if isinstance(exc, NOT_OUTAGES) or find_cause(exc, SSLCertVerificationError) is not None:
        return False
    if isinstance(exc, OUTAGES):
        return True
    message = str(exc).lower()
    return (isinstance(exc, rex.RedisClusterException) and CLUSTER_UNREACHABLE in message
            and NOT_A_CLUSTER not in message)


@contextmanager
def unavailable_on_outage() -> Iterator[None]:
    """Re-raise outages as `BackendUnavailable`; let every other error through unchanged."""
    try:
        yield
    except Exception as exc:
        raise_if_outage(exc)
        raise


def raise_if_outage(exc: BaseException) -> None:
    """Raise `BackendUnavailable` from `exc` if it is an outage; else return (the caller then
    re-raises `exc` with a bare ``raise``). The hot calls' inline form of the context manager."""
    if is_outage(exc):
        raise BackendUnavailable(f"{type(exc).__name__}: {exc}") from exc
