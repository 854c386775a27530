"""The hooks a wasmcache plugin implements.

A plugin is a module (or object) registered under the ``wasmcache`` entry-point group::

    [project.entry-points.wasmcache]
    mybackend = "wasmcache_mybackend"

and implements the hooks below with the `wasmcache.hookimpl` marker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .backend import BackendSpec

PROJECT_NAME = "wasmcache"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def wasmcache_register_backends(register: Callable[[BackendSpec], None]) -> None:
    """Register the storage backends this plugin provides.

    Call ``register(BackendSpec(schemes=(...), open=...))`` once per backend. A scheme that two
    plugins register is an error reported by ``wasmcache backends`` and at start.

    :param register: takes a `wasmcache.BackendSpec`; call it as often as needed.
    :return: nothing; results are collected through ``register``.
    """
