"""Shared test set-up: where things are, and how pytest-markdown-docs runs page fences.

It sits at the top of the repository so that it applies to docs/ as well as tests/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

# pytest-markdown-docs collects the fences; this runner runs them. Its runner API is
# internal to the pinned version (requirements.txt).
from pytest_markdown_docs._runners import _Runner, register_runner
from pytest_markdown_docs.definitions import FenceTestDefinition

from pylive import engine, expect, fences, runtimes

ROOT = Path(__file__).resolve().parent
# The fixture site's pages are inputs of tests/test_bad_input.py, not pages of this site.
collect_ignore = ["tests/fixtures"]
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


@cache
def version_matrix() -> tuple[engine.Interpreter, ...]:
    """The build's version matrix: native CPythons, and CPython on WebAssembly for the rest."""
    return tuple(runtimes.version_matrix([], "3.10", ROOT))


@cache
def other_implementations() -> tuple[engine.Interpreter, ...]:
    """PyPy and Jython, and MicroPython on WebAssembly, as the build finds them."""
    return tuple(runtimes.other_implementations(ROOT))


def interpreters_for(fence: fences.Fence) -> list[engine.Interpreter]:
    """The interpreters a fence asks for with versions=, as the build chooses them, less
    those that lack what it declares it needs (the build shows it as not run there)."""
    needs = engine.needs_of(fence.options)
    chosen = engine.choose(fence.options.get("versions", ""), list(version_matrix()), engine.newest_native(list(version_matrix())),
                           list(other_implementations()), _plugin_config().get("versions"))
    return [i for i in chosen.interpreters if not needs & i.lacks]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    runtimes.close()  # the WebAssembly runtimes' Node processes
    shutil.rmtree(RUN_CACHE, ignore_errors=True)


class FenceFailed(Exception):
    """A page's python fence did not end as the page says it does."""


def _check_expectations(fence: fences.Fence, ran: list[tuple[engine.Interpreter, str]], where: str) -> None:
    """The fence's expect= against the outputs, as the build checks it (pylive/expect.py)."""
    site = _plugin_config().get("versions") or [i.minor for i in version_matrix()]
    chosen = engine.choose(fence.options.get("versions", ""), list(version_matrix()),
                           engine.newest_native(list(version_matrix())), engine.discover_others(), site)
    wrong, _ = expect.problems(expect.parse(fence.options["expect"], site), ran, chosen.interpreters,
                               chosen.absent, site)
    if wrong:
        raise FenceFailed(f"{where}: " + f"\n{where}: ".join(wrong))


@register_runner(default=True)
class EngineRunner(_Runner):
    """Run each python fence the way the build does: as a program in a child interpreter
    (`__name__ == "__main__"`, a temporary folder, a clean environment, a timeout), under
    every interpreter its `versions=` option names, expecting its `returncode=`."""

    def runtest(self, test: FenceTestDefinition, args: dict[str, Any]) -> None:
        fence = _fence_at(Path(test.source_path), test.start_line)
        options = fence.options if fence else {}
        expected = int(options.get("returncode", "0"))
        ran = []
        for interpreter in interpreters_for(fence) if fence else [engine.build_interpreter()]:
            # The fence's body exactly as the build runs it, so that a run the build made in
            # this test run (RUN_CACHE) is not made again.
            run = engine.run_script(fence.body if fence else test.source, interpreter,
                                    float(options.get("timeout", 10)))
            where = f"{Path(test.source_path).relative_to(ROOT)}:{test.start_line} under {interpreter.label}"
            if run.timed_out:
                raise FenceFailed(f"{where}: did not finish within {options.get('timeout', 10)} s")
            if run.returncode != expected:
                raise FenceFailed(f"{where}: exited with {run.returncode}, expected {expected}:\n{run.output}")
            ran.append((interpreter, run.output))
        if fence and "expect" in options:
            _check_expectations(fence, ran, f"{Path(test.source_path).relative_to(ROOT)}:{test.start_line}")

    def repr_failure(self, test: FenceTestDefinition, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return str(excinfo.value)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the fences the build does not run as they stand, saying why."""
    for item in items:
        if type(item).__name__ != "MarkdownInlinePythonItem":
            continue
        fence = _fence_at(Path(item.path), item.start_line)
        if fence is None:
            continue
        if "norun" in fence.options:
            item.add_marker(pytest.mark.skip(reason=f"norun: {fence.options['norun']}"))
        elif fence.includes:
            item.add_marker(pytest.mark.skip(reason="includes snippet files; tests/test_docs.py runs them whole"))


def site_config() -> dict[str, Any]:
    """mkdocs.yml as YAML; MkDocs' own tags (such as !ENV) read as None."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)


@cache
def _plugin_config() -> dict[str, Any]:
    """The pylive plugin's settings in mkdocs.yml."""
    return next(p["pylive"] for p in site_config()["plugins"] if isinstance(p, dict) and "pylive" in p)


def _helper_path() -> list[str]:
    """The helper folders the build puts on examples' path (mkdocs.yml, pylive: pythonpath)."""
    return [str(ROOT / folder) for folder in _plugin_config().get("pythonpath", [])]


# Page examples run in-process here, and snippet files in children: both see the helpers.
engine.HELPER_PATH[:] = _helper_path()
sys.path[:0] = engine.HELPER_PATH


# -- the strict build of the real site, shared by the tests that read it -----------------

IN_CI = bool(os.environ.get("CI"))

# The examples of this test run, shared between the site's strict build and the page tests
# (keyed by the exact code and runtime, removed when the run ends): each runs once per run.
RUN_CACHE = Path(tempfile.mkdtemp(prefix="pylive-test-run-"))
os.environ["PYLIVE_CACHE"] = str(RUN_CACHE)
# Paths people edit by hand: seen changing while the site builds, they mean someone is at work.
SOURCE_SUFFIXES = {".md", ".ipynb", ".py", ".yml", ".yaml", ".css", ".toml"}


def git_status() -> set[str] | None:
    """`git status --porcelain` lines (tracked changes and untracked files); None outside git."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return set(done.stdout.splitlines())


def check_repository_unchanged(before: set[str] | None, after: set[str] | None, during: str) -> None:
    """Fail when `during` added a change to the work tree. Outside CI, where others may be
    editing pages while the tests run, changes only to hand-written sources are a skip."""
    if before is None or after is None:
        pytest.skip("not a git work tree")
    new = sorted(after - before)
    if not new:
        return
    paths = [line[3:].split(" -> ")[-1].strip('"') for line in new]
    by_hand = all(Path(p).suffix in SOURCE_SUFFIXES and not p.startswith(("site/", ".cache/")) for p in paths)
    if by_hand and not IN_CI:
        pytest.skip(f"the work tree changed during {during}, only in hand-written sources "
                    f"(someone editing?): {', '.join(paths)}")
    pytest.fail(f"{during} changed the repository:\n" + "\n".join(new))


def _site_folder_state() -> tuple[bool, float]:
    site = ROOT / "site"
    return site.exists(), site.stat().st_mtime if site.exists() else 0.0


@dataclass
class Build:
    out: Path
    returncode: int
    output: str
    seconds: float
    status_before: set[str] | None
    status_after: set[str] | None
    site_folder_before: tuple[bool, float]
    site_folder_after: tuple[bool, float]


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """`mkdocs build --strict` of the real site, once, into a temporary folder, with this
    run's examples (RUN_CACHE: what the page tests ran is not run twice)."""
    out = tmp_path_factory.mktemp("built") / "site"
    env = {k: v for k, v in os.environ.items() if k not in ("PYLIVE_EXECUTE",)}
    env.update(NO_MKDOCS_2_WARNING="1", PYLIVE_CACHE=str(RUN_CACHE))
    status_before, folder_before = git_status(), _site_folder_state()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    seconds = time.perf_counter() - started
    return Build(out, done.returncode, done.stdout + done.stderr, seconds,
                 status_before, git_status(), folder_before, _site_folder_state())


@pytest.fixture(scope="session")
def site(request: pytest.FixtureRequest) -> Path:
    """The built site. PYLIVE_TEST_SITE names a folder where this checkout's site was
    already built (`mkdocs build --strict -d FOLDER`): the tests that read the site then
    read that one, and run without building (the tests of the build itself still build)."""
    prebuilt = os.environ.get("PYLIVE_TEST_SITE")
    if prebuilt:
        if not (Path(prebuilt) / "index.html").is_file():
            pytest.fail(f"PYLIVE_TEST_SITE={prebuilt} holds no built site (no index.html)")
        return Path(prebuilt)
    build: Build = request.getfixturevalue("build")
    if build.returncode != 0:
        pytest.fail(f"the site did not build (see test_strict_build):\n{build.output[-3000:]}")
    return build.out
