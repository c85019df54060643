"""The build-time execution engine: runs page code in real interpreters and reports what it wrote.

Every example runs in a child process of the chosen interpreter, in a fresh temporary
working directory, with a timeout and a clean environment (no PYTHON* variables inherited
from the build). Two ways of running:

* a *script*: the whole block is one program; stdout and stderr are captured together,
  in the order they were written, so `dis.dis(f)` and `help(x)` show up like `print`;
* a *transcript*: each `>>>` statement is compiled on its own and expression values are
  echoed, as the interactive interpreter does (see `repl_driver.py`); each statement's
  output is then checked against the output written in the page with doctest's rules.

Nothing here knows about MkDocs: `plugin.py` turns these results into pages.
"""

from __future__ import annotations

import doctest
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPL_DRIVER = Path(__file__).with_name("repl_driver.py")

# What a child interpreter reports about itself; it must run on every CPython we support.
_PROBE = r"""
import json, platform, sys, sysconfig
gil = getattr(sys, "_is_gil_enabled", None)
print(json.dumps({
    "path": sys.executable,
    "version": platform.python_version(),
    "implementation": platform.python_implementation(),
    "cache_tag": sys.implementation.cache_tag,
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "gil_enabled": gil() if gil else True,
    "debug": hasattr(sys, "gettotalrefcount"),
    "virtual_env": sys.prefix != sys.base_prefix,
}))
"""


class EngineError(Exception):
    """An example could not be run as the page asked (bad option, missing interpreter...)."""


@dataclass(frozen=True)
class Interpreter:
    """A Python interpreter the engine has run once and knows the version of."""

    path: str
    version: str
    implementation: str
    cache_tag: str
    free_threaded: bool = False
    gil_enabled: bool = True
    debug: bool = False
    virtual_env: bool = False

    @property
    def minor(self) -> str:
        """`3.12` for 3.12.1: what pages and settings use to name a version."""
        return ".".join(self.version.split(".")[:2])

    @property
    def version_key(self) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", self.version)[:3])

    @property
    def label(self) -> str:
        """`CPython 3.12.1`, with the build options that change behaviour."""
        extras = [name for name, on in (("free-threaded", self.free_threaded), ("debug", self.debug)) if on]
        return f"{self.implementation} {self.version}" + (f" ({', '.join(extras)})" if extras else "")


@cache
def probe(path: str) -> Interpreter | None:
    """Run `path` once to learn what it is; None when it does not run (a broken pyenv shim).
    The interpreter is then named by its real executable, not by a shim that finds it."""
    try:
        done = subprocess.run(
            [path, "-c", _PROBE], capture_output=True, text=True, timeout=30, env=clean_env()
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return Interpreter(**json.loads(done.stdout))


def build_interpreter() -> Interpreter:
    """The interpreter running this build: the default for every example."""
    found = probe(sys.executable)
    if found is None:  # pragma: no cover - the build's own Python always runs
        raise EngineError(f"cannot run the build's own interpreter {sys.executable}")
    return found


def candidate_paths(pyenv_root: str | None = None) -> list[str]:
    """Where CPython interpreters usually are: `python3.X` on PATH, then pyenv's installs.

    pyenv's `python3.X` shims on PATH often fail to resolve, which is why every
    candidate is probed before it is used.
    """
    paths = [sys.executable]
    for minor in range(8, 20):
        for directory in os.environ.get("PATH", "").split(os.pathsep):
            candidate = Path(directory, f"python3.{minor}")
            if candidate.is_file() and os.access(candidate, os.X_OK):
                paths.append(str(candidate))
    root = pyenv_root or os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    paths.extend(str(p) for p in sorted(Path(root).glob("versions/*/bin/python3")))
    return paths


def discover(
    explicit: list[str] | None = None, minimum: str = "3.10", pyenv_root: str | None = None
) -> list[Interpreter]:
    """The interpreters of the version matrix: one per minor version (the newest patch,
    and a plain installation rather than a virtual environment, so that the tabs show
    Python as readers install it), oldest first, none older than `minimum`.
    `explicit` paths replace the search."""
    floor = tuple(int(p) for p in minimum.split("."))
    newest: dict[str, Interpreter] = {}
    paths = explicit if explicit else candidate_paths(pyenv_root)
    for path in paths:
        found = probe(path)
        if found is None:
            if explicit:
                raise EngineError(f"interpreter {path!r} named in the settings does not run")
            continue
        if found.version_key[:2] < floor:
            continue
        kept = newest.get(found.minor)
        if kept is None or (found.version_key, not found.virtual_env) > (kept.version_key, not kept.virtual_env):
            newest[found.minor] = found
    return sorted(newest.values(), key=lambda i: i.version_key)


# Folders of helper modules that examples may import (the plugin's `pythonpath` setting).
HELPER_PATH: list[str] = []


def choose(versions: str, matrix: list[Interpreter], default: Interpreter) -> tuple[list[Interpreter], bool]:
    """The interpreters a block's `versions=` option names ("" for `default` alone, "all",
    or minors such as "3.12,3.13"), and whether the matrix had every one asked for."""
    if not versions:
        return [default], True
    if versions == "all":
        return matrix, True
    wanted = [v.strip() for v in versions.split(",")]
    chosen = [i for i in matrix if i.minor in wanted]
    return chosen or [default], len(chosen) == len(wanted)


def clean_env() -> dict[str, str]:
    """The build's environment without PYTHON* settings, so examples see Python's defaults.

    (The build machine may set PYTHONDONTWRITEBYTECODE, which would silently break a
    `__pycache__` demonstration.) Pager and terminal are made plain for `help()`.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    env.update({"PAGER": "cat", "TERM": "dumb", "COLUMNS": "80", "LC_ALL": "C.UTF-8"})
    if HELPER_PATH:
        env["PYTHONPATH"] = os.pathsep.join(HELPER_PATH)
    return env


@dataclass(frozen=True)
class Run:
    """What one example did: everything it wrote, and how it ended."""

    output: str
    returncode: int
    timed_out: bool
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def run_child(argv: list[str], stdin: str, timeout: float, workdir: str) -> Run:
    """Run argv in its own process group so that a timeout kills it and its children."""
    started = time.perf_counter()
    with subprocess.Popen(
        argv,
        cwd=workdir,
        env=clean_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    ) as child:
        try:
            raw, _ = child.communicate(stdin.encode(), timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            raw, _ = child.communicate()
            timed_out = True
    return Run(
        output=raw.decode("utf-8", "replace"),
        returncode=child.returncode,
        timed_out=timed_out,
        seconds=time.perf_counter() - started,
    )


def _cache_file(*key: object) -> Path | None:
    """Where a result is cached when `PYLIVE_CACHE` names a folder (as `make serve` does).

    The key is the exact code, the exact interpreter (path and version) and the helper
    modules' contents, so a cached output is what this interpreter printed for this code.
    """
    folder = os.environ.get("PYLIVE_CACHE")
    if not folder:
        return None
    helpers = sorted((str(p), p.read_text(encoding="utf-8")) for d in HELPER_PATH for p in Path(d).glob("*.py"))
    digest = hashlib.sha256(json.dumps([key, helpers], default=str).encode()).hexdigest()
    return Path(folder, digest[:2], digest + ".json")


def cached(compute: Callable[[], T], kind: type[T], *key: object) -> T:
    """`compute()`, or its earlier result for the same key; failures are never cached."""
    path = _cache_file(kind.__name__, *key)
    if path is not None and path.exists():
        return kind(**json.loads(path.read_text(encoding="utf-8")))
    result = compute()
    if path is not None and getattr(result, "succeeded", False):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(result)), encoding="utf-8")
    return result


class _EarlyStart:
    """Runs started in the background before a page asks for them.

    The build knows every example before it renders the first page, and examples are
    independent programs, so it starts them all at once on every core (`start`); when a
    page then asks for the same run, it gets that result (`take`) instead of waiting for
    a new child. Anything not started early simply runs when asked.
    """

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
        self.started: dict[str, Future[Any]] = {}
        self.taken = 0

    def start(self, function: Callable[..., Any], *args: Any) -> None:
        self.started.setdefault(repr((function.__name__, args)), self.pool.submit(function, *args))

    def take(self, function: Callable[..., T], *args: Any) -> T:
        future = self.started.pop(repr((function.__name__, args)), None)
        if future is None:
            return function(*args)
        self.taken += 1
        return future.result()

    def wait(self) -> None:
        """Let every early run finish (timings must not compete with them for the cores)."""
        wait_for(list(self.started.values()))


early = _EarlyStart()


def start_script(code: str, interpreter: Interpreter, timeout: float = 10.0) -> None:
    """Start `run_script(code, interpreter, timeout)` in the background."""
    early.start(_run_script, code, interpreter, timeout)


def start_transcript(statements: list[Statement], interpreter: Interpreter, timeout: float = 10.0) -> None:
    """Start `run_transcript(statements, interpreter, timeout)` in the background."""
    early.start(_run_transcript, statements, interpreter, timeout)


def run_script(code: str, interpreter: Interpreter, timeout: float = 10.0) -> Run:
    """`python example.py` in a fresh temporary folder, or its result if started early."""
    return early.take(_run_script, code, interpreter, timeout)


def run_transcript(statements: list[Statement], interpreter: Interpreter, timeout: float = 10.0) -> TranscriptRun:
    """The transcript typed into an interactive interpreter, or its result if started early."""
    return early.take(_run_transcript, statements, interpreter, timeout)


def _run_script(code: str, interpreter: Interpreter, timeout: float = 10.0) -> Run:
    """Run `code` as a program (`python example.py`) in a fresh temporary folder.

    `-u` keeps stdout and stderr in the order they were written.
    """

    def run() -> Run:
        with tempfile.TemporaryDirectory(prefix="pylive-") as workdir:
            Path(workdir, "example.py").write_text(code, encoding="utf-8")
            return run_child([interpreter.path, "-u", "example.py"], "", timeout, workdir)

    return cached(run, Run, code, interpreter, timeout)


@dataclass(frozen=True)
class Statement:
    """One `>>>` statement of a transcript, with the output the page says it prints."""

    source: str
    expected: str
    line: int  # 1-based, counted from the transcript's first line
    exc_msg: str | None = None

    @property
    def prompted(self) -> str:
        """The statement as typed at the prompt, `>>> ` then `... ` for continuation lines."""
        lines = self.source.rstrip("\n").split("\n")
        return "\n".join(("... " if i else ">>> ") + line for i, line in enumerate(lines))


def parse_transcript(text: str) -> list[Statement]:
    """Split a transcript into statements with doctest's own parser."""
    try:
        examples = doctest.DocTestParser().get_examples(text)
    except ValueError as error:  # doctest names the bad line
        raise EngineError(f"not a valid transcript: {error}") from error
    if not examples:
        raise EngineError("a pycon transcript needs at least one '>>> ' statement")
    return [Statement(e.source, e.want, e.lineno + 1, e.exc_msg) for e in examples]


@dataclass(frozen=True)
class TranscriptRun:
    """The outputs of a transcript's statements, in order; a hang stops it early."""

    outputs: list[str]
    timed_out: bool
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return not self.timed_out and not self.error

    def complete(self, statements: list[Statement]) -> bool:
        return not self.timed_out and not self.error and len(self.outputs) == len(statements)


def _run_transcript(statements: list[Statement], interpreter: Interpreter, timeout: float = 10.0) -> TranscriptRun:
    """Type the statements into an interactive interpreter and collect what each one printed."""
    sources = [s.source for s in statements]

    def run() -> TranscriptRun:
        with tempfile.TemporaryDirectory(prefix="pylive-") as workdir:
            results = Path(workdir, ".transcript-results")
            child = run_child(
                [interpreter.path, "-u", str(REPL_DRIVER), str(results)], json.dumps(sources), timeout, workdir
            )
            outputs = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
        error = "" if child.timed_out or child.returncode == 0 else child.output
        return TranscriptRun(outputs=outputs, timed_out=child.timed_out, error=error)

    return cached(run, TranscriptRun, sources, interpreter, timeout)


_CHECKER = doctest.OutputChecker()
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def output_matches(statement: Statement, actual: str) -> bool:
    """Doctest's rules: `...` matches anything; for a traceback only its first line
    and the exception line(s) are compared, as doctest does."""
    if statement.exc_msg is not None:
        if not actual.startswith("Traceback (most recent call last):"):
            return False
        last = re.split(r"\n(?=\S)", actual.rstrip("\n"))[-1] + "\n"
        return _CHECKER.check_output(statement.exc_msg, last, _FLAGS)
    return _CHECKER.check_output(statement.expected, actual, _FLAGS)


def mismatches(statements: list[Statement], run: TranscriptRun) -> list[str]:
    """One message per statement whose actual output is not the written one."""
    problems = []
    for statement, actual in zip(statements, run.outputs):
        if not output_matches(statement, actual):
            problems.append(
                f"line {statement.line}: {statement.prompted.splitlines()[0]}\n"
                f"  expected: {statement.expected.rstrip() or '(nothing)'!r}\n"
                f"  got:      {actual.rstrip() or '(nothing)'!r}"
            )
    return problems
