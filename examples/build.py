"""Build an example guest with componentize-py, cached outside git by the hash of its inputs.

    python examples/build.py hello_cache      # prints examples/build/hello_cache.wasm

The build (about 10 s, 18 MB) lands in the user cache directory keyed by the guest's source,
the WIT files and the componentize-py version, and is linked to examples/build/NAME.wasm
(ignored by git). Tests call `build_guest` the same way.

A guest folder with a package.json (examples/hello_cache_js) is JavaScript: `build_js_guest`
installs its package-lock.json once with `npm ci` into the same cache directory (keyed by the
lock file), then builds with `jco componentize`, cached the same way.

A guest folder with .c files (examples/hello_cache_c) is C: `build_c_component` compiles it
with Debian's clang and wasi-libc and makes it a component with jco (the same node_modules), a
command guest unless `C_LIBRARIES` names the WIT world it implements. Tens of KB, about 1 s.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import platformdirs

EXAMPLES = Path(__file__).resolve().parent
WIT = EXAMPLES.parent / "wit"
OUTPUT = EXAMPLES / "build"


def _inputs_digest(source: Path, world: str, tool: str = "",
                   suffixes: tuple[str, ...] = (".py", ".wit"), extra: tuple[Path, ...] = ()
                   ) -> str:
    """A hash of the tool, the world, every file with one of `suffixes` under the source and
    the WIT folder, and the `extra` folders' files with those suffixes (or files)."""
    digest = hashlib.sha256()
    digest.update((tool or importlib.metadata.version("componentize-py")).encode())
    digest.update(world.encode())
    for root in (source, WIT.resolve(), *extra):
        base = root.parent if root.is_file() else root
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if (path.is_file() and path.suffix in suffixes
                    and "node_modules" not in path.relative_to(base).parts):
                digest.update(str(path.relative_to(base)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _cache_dir() -> Path:
    return Path(os.environ.get("WASMCACHE_GUEST_CACHE")
                or platformdirs.user_cache_dir("wasmcache-dev"))


#: Python examples that are not command guests, with the WIT world each implements.
PY_WORLDS = {"compress_cache": "cache-middleware"}


def build_guest(name: str, world: str | None = None) -> Path:
    """Return the path of examples/build/NAME.wasm, building it only when its inputs changed."""
    source = EXAMPLES / name
    world = world or PY_WORLDS.get(name, "command")

    def componentize(out: Path, tmp: Path) -> None:
        command = [str(Path(sys.executable).with_name("componentize-py")), "-d", str(WIT),
                   "-w", world, "componentize", "-p", str(source), "app", "-o", str(out)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=tmp)

    return _cached_build(name, _inputs_digest(source, world), componentize)


def _cached_build(name: str, digest: str, build: Callable[[Path, Path], None]) -> Path:
    """Link examples/build/NAME.wasm to the cached build for `digest`; build(out, tmp) on a miss."""
    cache = _cache_dir() / "guests"
    cached = cache / f"{name}-{digest}.wasm"
    if not cached.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "guest.wasm"
            build(out, Path(tmp))
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


def _node_tool(*args: str, cwd: Path) -> str:
    """Run npm, node or jco quietly; their output goes into the error when they fail."""
    return _tool(args, cwd, "JavaScript guests need Node.js 20+ and npm "
                            "(Debian: apt-get install -y nodejs npm)")


def _tool(args: Sequence[str], cwd: Path, needs: str) -> str:
    """Run a build tool quietly and return its stdout; its output goes into the error when it
    fails, and `needs` says what to install when it is missing."""
    tool = shutil.which(args[0])
    if tool is None:
        raise RuntimeError(f"{args[0]} is not installed: {needs}")
    done = subprocess.run([tool, *args[1:]], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed in {cwd}:\n{done.stdout}{done.stderr}")
    return done.stdout


def _node_modules(source: Path) -> Path:
    """node_modules for source's package-lock.json: `npm ci` once per lock file, in the cache."""
    manifests = [source / "package.json", source / "package-lock.json"]
    key = hashlib.sha256(b"".join(path.read_bytes() for path in manifests)).hexdigest()[:20]
    installed = _cache_dir() / "node" / key
    if not (installed / "node_modules" / ".bin" / "jco").exists():
        staging = installed.with_name(f"{key}.tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for path in manifests:
            shutil.copy2(path, staging / path.name)
        _node_tool("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", cwd=staging)
        shutil.rmtree(installed, ignore_errors=True)  # a half-finished earlier install
        try:
            os.replace(staging, installed)
        except OSError:  # another build installed the same lock file meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return installed / "node_modules"


def build_js_guest(name: str, world: str = "command") -> Path:
    """examples/build/NAME.wasm from examples/NAME/app.js with `jco componentize`, cached."""
    source = EXAMPLES / name
    jco = _node_modules(source) / ".bin" / "jco"
    node = _node_tool("node", "--version", cwd=source).strip()
    digest = _inputs_digest(source, world, f"node {node}", (".js", ".json", ".wit"))

    def componentize(out: Path, tmp: Path) -> None:
        # --bundle: app.js imports ./printable.js, and without bundling ComponentizeJS sees
        # only the entry file. The host serves WASI 0.2 but not wasi:http, so that goes.
        _node_tool(str(jco), "componentize", "app.js", "--bundle", "--wit", str(WIT.resolve()),
             "--world-name", world, "--disable", "http", "fetch-event", "-o", str(out),
             cwd=source)

    return _cached_build(name, digest, componentize)


# ---- C -----------------------------------------------------------------------------------

C_BINDINGS = EXAMPLES / "c_bindings"
#: C examples that are library components, with the WIT world each implements (wit/cache.wit).
#: Every other C example is a command guest: the `guest` world (hand-written bindings in
#: c_bindings/wasmcache_cache.h), wasi-libc's main, and the WASI command adapter's wasi:cli/run.
C_LIBRARIES = {"lru_cache": "cache-impl"}
C_NEEDS = ("C guests need clang, wasm-ld, wasi-libc and compiler-rt for wasm32 (Debian "
           "bookworm: apt-get install -y clang lld-14 wasi-libc libclang-rt-14-dev-wasm32)")
C_FLAGS = ("--target=wasm32-wasi", "-Os", "-std=c11", "-Wall", "-Wextra", "-Werror",
           "-Wl,--strip-all")
PRINTABLE_JS = EXAMPLES / "hello_cache_js" / "printable.js"
# jco 1.35.0's `jco embed` CLI drops --world-name (it passes `worldName`, wasm-tools reads
# `world`), so the same two steps run through jco's JavaScript API: embed the world's WIT in
# the core module, then `new` (with the WASI command adapter for a command, as
# `jco new --wasi-command` does).
JCO_COMPONENT_NEW = """
import { readFile, writeFile } from 'node:fs/promises';
import { componentEmbed, componentNew, preview1AdapterCommandPath } from '@bytecodealliance/jco';
const [core, witPath, world, kind, out] = process.argv.slice(1);
const binary = await componentEmbed({ binary: await readFile(core), witPath, world });
const adapters = kind === 'command'
  ? [['wasi_snapshot_preview1', await readFile(preview1AdapterCommandPath())]] : [];
await writeFile(out, await componentNew(binary, adapters));
"""


def _printable_header() -> str:
    """printable.h for the C guests: the JavaScript guest's table of what str.isprintable()
    rejects in the Python guest's CPython (make_printable_table.py) as a C array, so the two
    guests read one table."""
    text = PRINTABLE_JS.read_text()
    header = "".join(f"/*{line[2:]} */\n" for line in text.splitlines()
                     if line.startswith("//"))
    numbers = re.findall(r"0x[0-9a-f]+", text.split("NOT_PRINTABLE = [", 1)[1])
    rows = [", ".join(numbers[i:i + 8]) for i in range(0, len(numbers), 8)]
    return (f"{header}static const uint32_t NOT_PRINTABLE[] = {{\n  "
            + ",\n  ".join(rows) + ",\n};\n")


def build_c_component(name: str) -> Path:
    """examples/build/NAME.wasm from examples/NAME/*.c with clang, wasi-libc and jco, cached."""
    source = EXAMPLES / name
    command = name not in C_LIBRARIES
    world = "guest" if command else C_LIBRARIES[name]
    node_modules = _node_modules(EXAMPLES / "hello_cache_js")  # jco, from its lock file
    jco = json.loads((node_modules / "@bytecodealliance" / "jco" / "package.json").read_text())
    clang = _tool(["clang", "--version"], source, C_NEEDS).splitlines()[0]
    # a command brings its own _start (c_bindings/command_start.c: why there)
    flags = [*C_FLAGS, "-nostartfiles" if command else "-mexec-model=reactor"]
    sources = sorted(source.glob("*.c")) + ([C_BINDINGS / "command_start.c"] if command else [])
    tool = f"{clang}; jco {jco['version']}; {' '.join(flags)}"
    digest = _inputs_digest(source, world, tool, (".c", ".h", ".js", ".wit"),
                            extra=(C_BINDINGS, PRINTABLE_JS))

    def compile_and_componentize(out: Path, tmp: Path) -> None:
        (tmp / "printable.h").write_text(_printable_header())
        core = tmp / "core.wasm"
        _tool(["clang", *flags, "-I", str(tmp), "-I", str(C_BINDINGS), *map(str, sources),
               "-o", str(core)], source, C_NEEDS)
        _node_tool("node", "--input-type=module", "-e", JCO_COMPONENT_NEW, str(core),
                   str(WIT.resolve()), world, "command" if command else "library", str(out),
                   cwd=node_modules.parent)

    return _cached_build(name, digest, compile_and_componentize)


def build_any(name: str) -> Path:
    """build_c_component for a folder with .c files, build_js_guest for one with a
    package.json, else build_guest."""
    source = EXAMPLES / name
    if any(source.glob("*.c")):
        return build_c_component(name)
    js = (source / "package.json").exists()
    return build_js_guest(name) if js else build_guest(name)


if __name__ == "__main__":
    for guest in sys.argv[1:] or ["hello_cache"]:
        print(build_any(guest).relative_to(Path.cwd(), walk_up=True)
              if sys.version_info >= (3, 12) else build_any(guest))
