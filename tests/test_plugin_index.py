"""plugin_index: opening a backend imports its own plugin only, and the index follows changes.

Each check runs in a fresh interpreter (what it imports is the point), after one run that makes
sure the index for that environment exists.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import install_plugin

OPEN = """
import json, sys
from wasmcache import WasmcacheError, open_backend
try:
    open_backend(sys.argv[1]).close()
    outcome = "ok"
except WasmcacheError as exc:
    outcome = str(exc)
print(json.dumps({"outcome": outcome, "modules": sorted(sys.modules)}))
"""


def _open(url: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> dict:
    full_env = {**os.environ, **(env or {})}
    for _ in range(2):  # the first builds this environment's index if it is missing
        done = subprocess.run([sys.executable, "-c", OPEN, url], env=full_env, cwd=cwd,
                              capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def test_opening_a_url_imports_only_the_plugin_of_its_scheme(tmp_path: Path) -> None:
    memory = _open("memory://", cwd=tmp_path)
    assert memory["outcome"] == "ok"
    assert not {"importlib.metadata", "wasmcache_disk", "wasmcache_redis",
                "wasmcache_sql"} & set(memory["modules"])
    disk = _open(f"disk://{tmp_path / 'store'}", cwd=tmp_path)
    assert disk["outcome"] == "ok"
    assert "wasmcache_disk" in disk["modules"]
    assert not {"importlib.metadata", "wasmcache_redis", "wasmcache_sql"} & set(disk["modules"])


TOY = '''
from wasmcache import BackendSpec, hookimpl
from wasmcache.backends.memory import open_memory


@hookimpl
def wasmcache_register_backends(register):
    register(BackendSpec(schemes=SCHEMES, open=open_memory))


SCHEMES = {schemes!r}
'''


def test_a_plugin_whose_files_change_is_read_again(tmp_path: Path) -> None:
    """Editing a plugin in place changes no directory on sys.path; its file's stamp tells."""
    site = install_plugin(tmp_path / "site", "toy-index", "toyindex", "wasmcache_toy_index",
                          textwrap.dedent(TOY.format(schemes=("toyone",))))
    env = {"PYTHONPATH": str(site)}
    assert _open("toyone://x", env, tmp_path)["outcome"] == "ok"
    module = site / "wasmcache_toy_index.py"
    module.write_text(textwrap.dedent(TOY.format(schemes=("toytwo", "toythree"))))
    stamp = module.stat().st_mtime_ns + 1_000_000_000  # a new mtime even on a coarse clock
    os.utime(module, ns=(stamp, stamp))
    assert _open("toytwo://x", env, tmp_path)["outcome"] == "ok"
    gone = _open("toyone://x", env, tmp_path)["outcome"]
    assert gone.startswith("unknown backend scheme 'toyone'") and "toythree" in gone
