"""MkDocs hook (mkdocs.yml: hooks): the site's own copy of CPython on WebAssembly, for the
reader's runs of its examples and for the bytecode playground (docs/assets/live/live.js).

At every build (and every rebuild of `mkdocs serve`, which serves the same files), it adds
to the site, from the npm packages pinned in package.json and installed by `npm ci`:

* `assets/pyodide/<minor>/`: the files a browser loads to start each runtime, and only
  those (the package's console pages, type definitions and source maps stay out);
* `assets/live/`: the Python the browser runs them with, the very files the build uses
  (`wasm_runner.py`, `repl_driver.py`), and the helper modules examples import
  (`helpers/`, from the plugin's `pythonpath` folders);
* `assets/live/runtimes.json`: where each runtime is, its size, and the helpers' names.

Nothing is committed and nothing comes from another host. A page loads none of it until
the reader clicks Run. A machine without the packages builds a site whose Run says so.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

from pylive import runtimes, wasm

log = logging.getLogger("mkdocs.hooks.browser")

# What Pyodide's loader fetches in a browser: its module, the compiled interpreter, the
# standard library and the package list it reads at start-up.
RUNTIME_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
PYTHON_FILES = ("wasm_runner.py", "repl_driver.py")
RUNTIME_FOLDER = "assets/pyodide"
LIVE_FOLDER = "assets/live"


def shipped(root: Path) -> dict[str, Path]:
    """The runtimes installed under `root/node_modules`, by minor version: {"3.14": folder}."""
    found = {}
    for package in wasm.PACKAGES:
        folder = root / "node_modules" / package
        if all((folder / name).is_file() for name in RUNTIME_FILES):
            found[runtimes.minor_of(folder.name)] = folder
    return found


def helper_folders(config: Any) -> list[Path]:
    """The folders of helper modules examples import: the pylive plugin's `pythonpath`."""
    root = Path(config["config_file_path"]).parent
    plugin = config["plugins"].get("pylive")
    return [root / folder for folder in (plugin.config.pythonpath if plugin else [])]


def on_files(files: Files, config: Any) -> Files:
    root = Path(config["config_file_path"]).parent
    found = shipped(root)
    if not found:
        log.info("browser: node_modules has no Pyodide runtime (npm ci installs them): the pages' Run "
                 "buttons will say that this copy of the site has no runtime")
    for minor, folder in found.items():
        for name in RUNTIME_FILES:
            files.append(File.generated(config, f"{RUNTIME_FOLDER}/{minor}/{name}", abs_src_path=str(folder / name)))
    for name in PYTHON_FILES:
        files.append(File.generated(config, f"{LIVE_FOLDER}/{name}", abs_src_path=str(Path(__file__).with_name(name))))
    helpers = sorted(path for folder in helper_folders(config) for path in folder.glob("*.py"))
    for path in helpers:
        files.append(File.generated(config, f"{LIVE_FOLDER}/helpers/{path.name}", abs_src_path=str(path)))
    manifest = {
        # Relative to the manifest, so that the site works under any path (/site/ when hosted).
        "runtimes": {minor: f"../pyodide/{minor}/" for minor in found},
        "megabytes": {minor: round(sum((folder / name).stat().st_size for name in RUNTIME_FILES) / 1e6)
                      for minor, folder in found.items()},
        "helpers": [path.name for path in helpers],
    }
    files.append(File.generated(config, f"{LIVE_FOLDER}/runtimes.json", content=json.dumps(manifest, indent=1)))
    return files
