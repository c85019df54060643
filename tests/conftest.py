"""Shared test set-up: where things are, and how pytest-markdown-docs runs page fences."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from pylive import engine, fences

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNIPPETS = ROOT / "snippets"


def markdown_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture(autouse=True)
def _work_in_a_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Examples may write files: never into the repository."""
    monkeypatch.chdir(tmp_path)


def _fence_at(path: Path, line: int) -> fences.Fence | None:
    return next((f for f in fences.scan(path.read_text(encoding="utf-8")) if f.line == line), None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Apply a page fence's own options to the test pytest-markdown-docs made of it."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    for item in items:
        if type(item).__name__ != "MarkdownInlinePythonItem":
            continue
        fence = _fence_at(Path(item.path), item.start_line)
        if fence is None:
            continue
        versions = fence.options.get("versions", "")
        if "norun" in fence.options:
            item.add_marker(pytest.mark.skip(reason=f"norun: {fence.options['norun']}"))
        elif fence.includes:
            item.add_marker(pytest.mark.skip(reason="includes snippet files; tests/test_docs.py runs them whole"))
        elif versions not in ("", "all") and running not in versions.split(","):
            item.add_marker(pytest.mark.skip(reason=f"written for CPython {versions} only"))
        elif fence.options.get("returncode", "0") != "0":
            item.add_marker(pytest.mark.xfail(strict=True, reason="the example is meant to fail"))


def _helper_path() -> list[str]:
    """The helper folders the build puts on examples' path (mkdocs.yml, pylive: pythonpath)."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    plugin = next(p["pylive"] for p in config["plugins"] if isinstance(p, dict) and "pylive" in p)
    return [str(ROOT / folder) for folder in plugin.get("pythonpath", [])]


# Page examples run in-process here, and snippet files in children: both see the helpers.
engine.HELPER_PATH[:] = _helper_path()
sys.path[:0] = engine.HELPER_PATH
