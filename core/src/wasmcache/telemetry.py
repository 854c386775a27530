"""When telemetry is on, and the span of a guest run; imports nothing of OpenTelemetry.

The command line turns telemetry on (`exporting`) when ``OTEL_TRACES_EXPORTER`` or
``OTEL_METRICS_EXPORTER`` names an exporter (anything but ``none``), ``OTEL_SDK_DISABLED`` is
not true, and the ``otel`` extra is installed; everything else is OpenTelemetry's own
``OTEL_*`` configuration (docs/observability.md). Off, no OpenTelemetry module is imported and
no guest call is timed (unless ``--stats`` asks). An embedder passes
``wasmcache.otel.Telemetry()`` as `GuestOptions.observer` (or a session's ``observer``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .observe import Observer
from .plugins import url_scheme

if TYPE_CHECKING:
    from .runner import GuestOptions

log = logging.getLogger("wasmcache.telemetry")

#: Setting one of these to an exporter's name turns telemetry on in ``wasmcache run``.
EXPORTER_VARIABLES = ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER")
INSTALL_HINT = "pip install 'wasmcache[otel]'"


def asked(variable: str) -> bool:
    """True when `variable` (``OTEL_TRACES_EXPORTER``, say) names an exporter."""
    return os.environ.get(variable, "").strip().lower() not in ("", "none")


def requested() -> bool:
    """True when the environment asks for an exporter and does not disable the SDK."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(asked(name) for name in EXPORTER_VARIABLES)


def installed() -> bool:
    """True when the ``otel`` extra's packages are importable (checked without importing)."""
    try:
        return all(importlib.util.find_spec(name) is not None
                   for name in ("opentelemetry.sdk", "opentelemetry.distro"))
    except ModuleNotFoundError:  # no `opentelemetry` package at all
        return False


@contextmanager
def exporting() -> Iterator[Observer | None]:
    """``wasmcache run``'s telemetry: the observer to run the guest with (None when off); on
    leaving, everything pending is exported and the providers made here are shut down.

    Raises `WasmcacheError` when the ``OTEL_*`` variables name something the SDK cannot do.
    """
    if not requested():
        yield None
        return
    if not installed():
        names = ", ".join(name for name in EXPORTER_VARIABLES if os.environ.get(name))
        log.warning("%s is set but OpenTelemetry is not installed, so nothing is exported: %s",
                    names, INSTALL_HINT)
        yield None
        return
    from . import otel

    telemetry, providers = otel.start_from_environment()
    try:
        yield telemetry
    finally:
        otel.shutdown(providers)


class _NoRun:
    """A run nobody traces."""

    @staticmethod
    def exited(status: int) -> int:
        return status


NO_RUN = _NoRun()


def _telemetry_of(observer: Observer | None) -> Any:
    """The observer among `observer` (one, or an `Observers`) that traces runs, i.e. has
    ``run_span(attributes)`` (`wasmcache.otel.Telemetry`), else None."""
    for candidate in getattr(observer, "observers", (observer,)):
        if callable(getattr(candidate, "run_span", None)):
            return candidate
    return None


@contextmanager
def guest_run(wasm: str | os.PathLike[str], backend: Any,
              options: GuestOptions) -> Iterator[Any]:
    """The span of one guest run when `options.observer` has telemetry; yields an object
    whose ``exited(status)`` records the guest's exit status and returns it. Without
    telemetry it costs one attribute lookup and records nothing."""
    telemetry = _telemetry_of(options.observer)
    if telemetry is None:
        yield NO_RUN
        return
    attributes: dict[str, Any] = {"wasmcache.guest.name": Path(os.fspath(wasm)).name,
                                  "wasmcache.namespace": options.namespace}
    if options.profile is not None:
        attributes["wasmcache.profile"] = options.profile
    if isinstance(backend, str):
        attributes["wasmcache.backend.scheme"] = url_scheme(backend)
    with telemetry.run_span(attributes) as run:
        yield run
