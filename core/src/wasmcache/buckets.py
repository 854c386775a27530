"""Which buckets a guest may open, and where each one lives in the backend.

A bucket is namespace-scoped storage:

* ``"default"`` is the guest's own namespace itself, so a wasmcache:cache guest and a
  wasi:keyvalue guest of one namespace see the same keys;
* another identifier ``X`` is allowed only when the guest's profile lists it
  (``buckets = ["X"]``) and is stored in the backend namespace ``<namespace>.<X>``.

Bucket identifiers are 1-63 of ``A-Z a-z 0-9 _ -`` (no '.'), so ``<namespace>.<X>`` is still a
valid namespace and splits uniquely at its last '.'; it must fit the 64-character namespace
limit. An identifier that is not allowed (or not well formed) is ``no-such-store``: a guest
cannot tell a bucket it may not open from one that does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import WasmcacheError
from .limits import validate_namespace

DEFAULT_BUCKET = "default"
DEFAULT_PAGE_SIZE = 100  # keys in one list-keys page unless a profile says otherwise
BUCKET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,63}")


@dataclass(frozen=True, slots=True)
class Bucket:
    """A bucket a guest may open: its identifier and the backend namespace it lives in."""

    name: str
    namespace: str


def bucket_problem(namespace: str, bucket: str) -> str | None:
    """Why `bucket` cannot be a bucket of `namespace` (one line), or None when it can."""
    if not isinstance(bucket, str) or not BUCKET_PATTERN.fullmatch(bucket):
        return f"bucket {bucket!r}: expected 1-63 characters of A-Z a-z 0-9 _ -"
    if bucket != DEFAULT_BUCKET and len(namespace) + 1 + len(bucket) > 64:
        return (f"bucket {bucket!r} of namespace {namespace!r}: {namespace}.{bucket} is "
                "longer than the 64 characters a namespace may have")
    return None


def bucket_namespace(namespace: str, bucket: str) -> str:
    """The backend namespace of `bucket` for a guest of `namespace`."""
    problem = bucket_problem(namespace, bucket)
    if problem:
        raise WasmcacheError(problem)
    return namespace if bucket == DEFAULT_BUCKET else validate_namespace(f"{namespace}.{bucket}")
