"""Build an example guest with componentize-py, cached outside git by the hash of its inputs.

    python examples/build.py hello_cache      # prints examples/build/hello_cache.wasm

The build (about 10 s, 18 MB) lands in the user cache directory keyed by the guest's source,
the WIT files and the componentize-py version, and is linked to examples/build/NAME.wasm
(ignored by git). Tests call `build_guest` the same way.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import platformdirs

EXAMPLES = Path(__file__).resolve().parent
WIT = EXAMPLES.parent / "wit"
OUTPUT = EXAMPLES / "build"


def _inputs_digest(source: Path, world: str) -> str:
    digest = hashlib.sha256()
    digest.update(importlib.metadata.version("componentize-py").encode())
    digest.update(world.encode())
    for root in (source, WIT.resolve()):
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".wit"):
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def build_guest(name: str, world: str = "command") -> Path:
    """Return the path of examples/build/NAME.wasm, building it only when its inputs changed."""
    source = EXAMPLES / name
    cache = Path(os.environ.get("WASMCACHE_GUEST_CACHE")
                 or platformdirs.user_cache_dir("wasmcache-dev")) / "guests"
    cached = cache / f"{name}-{_inputs_digest(source, world)}.wasm"
    if not cached.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "guest.wasm"
            command = [str(Path(sys.executable).with_name("componentize-py")), "-d", str(WIT),
                       "-w", world, "componentize", "-p", str(source), "app", "-o", str(out)]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=tmp)
            shutil.move(out, cached.with_suffix(".tmp"))
            os.replace(cached.with_suffix(".tmp"), cached)
    OUTPUT.mkdir(exist_ok=True)
    target = OUTPUT / f"{name}.wasm"
    if not (target.exists() and os.path.samefile(target, cached)):
        tmp_link = target.with_suffix(".tmp")
        tmp_link.unlink(missing_ok=True)
        os.link(cached, tmp_link)
        os.replace(tmp_link, target)
    return target


if __name__ == "__main__":
    for guest in sys.argv[1:] or ["hello_cache"]:
        print(build_guest(guest).relative_to(Path.cwd(), walk_up=True)
              if sys.version_info >= (3, 12) else build_guest(guest))
