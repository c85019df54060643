"""The runtimes an example can run on: the version matrix, one per minor version, and
the other implementations.

A native CPython found on the machine (engine.discover) always wins; CPython compiled to
WebAssembly (wasm.py, from the pinned npm packages) fills the minor versions that no
native interpreter has. The other implementations are PyPy and Jython from the machine
(engine.discover_others) and MicroPython on WebAssembly (npm). PYLIVE_WASM=0 leaves
WebAssembly out (to measure what it costs).
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


def other_implementations(root: Path) -> list[engine.Interpreter]:
    """PyPy and Jython on PATH, and MicroPython's WebAssembly port under `root/node_modules`."""
    found = engine.discover_others()
    runtime = None if os.environ.get("PYLIVE_WASM", "1") == "0" else wasm.find_micropython(root)
    interpreter = _start(runtime) if runtime is not None else None
    if runtime is not None and interpreter is not None:
        engine.RUNTIMES[interpreter.path] = runtime
        found.append(interpreter)
    return found


def minor_of(package: str) -> str:
    """"3.14" for the package folder pyodide-314, without starting it."""
    digits = re.search(r"(\d)(\d+)$", package)
    return f"{digits[1]}.{digits[2]}" if digits else ""


def _start(runtime: wasm.WasmRuntime) -> engine.Interpreter | None:
    """The runtime's interpreter, once its host has started; None (and a warning) if it does not."""
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
