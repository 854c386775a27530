"""The contract's limits and the checks that enforce them once, for every backend."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import WasmcacheError

MAX_KEY_BYTES = 250
MAX_VALUE_BYTES = 1024 * 1024
NAMESPACE_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class Limits:
    """Size limits an operator may lower (or raise) per host or per guest."""

    max_key_bytes: int = MAX_KEY_BYTES
    max_value_bytes: int = MAX_VALUE_BYTES

    def __post_init__(self) -> None:
        if self.max_key_bytes < 1:
            raise WasmcacheError(f"max_key_bytes must be at least 1, not {self.max_key_bytes}")
        if self.max_value_bytes < 0:
            raise WasmcacheError(f"max_value_bytes must be at least 0, not {self.max_value_bytes}")


def validate_namespace(namespace: str) -> str:
    """Return `namespace` if it is 1-64 of [A-Za-z0-9._-], else raise a one-line error.

    Backends rely on this: a namespace never holds ':', '/', '{' or '}', so they can use those
    as separators without any risk of one namespace's keys aliasing another's.
    """
    if not isinstance(namespace, str) or not NAMESPACE_PATTERN.fullmatch(namespace):
        raise WasmcacheError(
            f"invalid namespace {namespace!r}: expected 1-64 characters of A-Z a-z 0-9 . _ -"
        )
    return namespace
