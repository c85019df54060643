"""The version matrix: the runtimes an example can run on, one per minor version.

A native CPython found on the machine (engine.discover) always wins; CPython compiled to
WebAssembly (wasm.py, from the pinned npm packages) fills the minor versions that no
native interpreter has. PYLIVE_WASM=0 leaves WebAssembly out (to measure what it costs).
"""

from __future__ import annotations

import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pylive import engine, wasm

log = logging.getLogger("mkdocs.plugins.pylive")


def version_matrix(explicit: list[str], minimum: str, root: Path) -> list[engine.Interpreter]:
    """Native interpreters (`explicit` paths, or those found on PATH and in pyenv), then the
    WebAssembly runtimes under `root/node_modules` for the minors they lack. With explicit
    paths, only those: a build that names its interpreters gets exactly them."""
    matrix = engine.discover(explicit, minimum)
    if explicit or os.environ.get("PYLIVE_WASM", "1") == "0":
        return matrix
    have = {i.minor for i in matrix}
    wanted = [r for r in wasm.find_runtimes(root) if minor_of(r.package_dir.name) not in have]  # native wins
    with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:  # each start takes seconds
        started = list(pool.map(_start, wanted))
    for runtime, interpreter in zip(wanted, started):
        if interpreter is not None:
            engine.RUNTIMES[interpreter.path] = runtime
            matrix.append(interpreter)
    return sorted(matrix, key=lambda i: i.version_key)


def minor_of(package: str) -> str:
    """"3.14" for the package folder pyodide-314, without starting it."""
    digits = re.search(r"(\d)(\d+)$", package)
    return f"{digits[1]}.{digits[2]}" if digits else ""


def _start(runtime: wasm.WasmRuntime) -> engine.Interpreter | None:
    try:
        return runtime.interpreter
    except (wasm.HostError, OSError) as error:
        log.warning(f"pylive: the WebAssembly runtime {runtime.package_dir.name} does not start: {error}")
        return None


def close() -> None:
    """Stop the WebAssembly runtimes' Node processes."""
    for runtime in engine.RUNTIMES.values():
        runtime.close()
    engine.RUNTIMES.clear()
