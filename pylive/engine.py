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
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPL_DRIVER = Path(__file__).with_name("repl_driver.py")

# What a child interpreter reports about itself; it must run on every interpreter we run,
# Jython's Python 2.7 included.
_PROBE = r"""
import json, platform, sys
try:
    import sysconfig
    free = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
except Exception:
    free = False
gil = getattr(sys, "_is_gil_enabled", None)
pypy = getattr(sys, "pypy_version_info", None)
print(json.dumps({
    "path": sys.executable,
    "version": platform.python_version(),
    "implementation": platform.python_implementation(),
    "cache_tag": getattr(getattr(sys, "implementation", None), "cache_tag", None) or "",
    "free_threaded": free,
    "gil_enabled": gil() if gil else True,
    "debug": hasattr(sys, "gettotalrefcount"),
    "virtual_env": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
    "release": ".".join(str(part) for part in pypy[:3]) if pypy else "",
    "prefix": getattr(sys, "base_prefix", sys.prefix),
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
    release: str = ""
    """The implementation's own version where it has one (PyPy 7.3.11 implements Python 3.9.16)."""
    command: tuple[str, ...] = ()
    """How to start it, when that is more than its path (Jython: the JVM, with its limits)."""
    prefix: str = ""
    """Where it is installed (sys.base_prefix): shown in outputs by a stand-in."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "command", tuple(self.command))  # read back from JSON as a list

    @property
    def argv(self) -> list[str]:
        """The command that starts it; arguments for Python follow."""
        return list(self.command or (self.path,))

    @property
    def minor(self) -> str:
        """`3.12` for 3.12.1: what pages and settings use to name a version."""
        return ".".join(self.version.split(".")[:2])

    @property
    def version_key(self) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", self.version)[:3])

    platform = "native"
    """Where it runs: a native executable here, "WebAssembly" for CPython compiled to wasm32."""

    lacks = frozenset[str]()
    """What examples may need (a fence's needs=) that this runtime cannot do."""

    @property
    def short(self) -> str:
        """A tab's label: `3.12`, `3.14 · WebAssembly`, `PyPy 7.3.11`; outputs carry the full label."""
        name = self.minor if self.implementation == "CPython" else f"{self.implementation} {self.release or self.minor}"
        return name if self.platform == "native" else f"{name} · {self.platform}"

    @property
    def label(self) -> str:
        """`CPython 3.12.1 · native`, with the build options that change behaviour."""
        extras = [name for name, on in (("free-threaded", self.free_threaded), ("debug", self.debug)) if on]
        version = f"{self.release} (Python {self.version})" if self.release else self.version
        return (f"{self.implementation} {version}" + (f" ({', '.join(extras)})" if extras else "")
                + f" · {self.platform}")


@cache
def probe(path: str, command: tuple[str, ...] = ()) -> Interpreter | None:
    """Run `path` (or `command`) once to learn what it is; None when it does not run (a
    broken pyenv shim). A CPython is then named by its real executable, not by a shim.
    With PYLIVE_CACHE, what a probe learnt is kept for the very same files (every build of
    a test run, and `make serve`, would otherwise start each interpreter again to ask)."""
    files = [path, *command[:1], *(word for word in command if word.endswith(".jar"))]
    try:
        identity = [(os.path.realpath(f), os.stat(f).st_mtime_ns, os.stat(f).st_size) for f in files]
    except OSError:
        return None
    return cached(lambda: _probe(path, command), Interpreter, "probe", path, command, identity)


def _probe(path: str, command: tuple[str, ...]) -> Interpreter | None:
    try:
        done = subprocess.run(
            [*(command or (path,)), "-c", _PROBE], capture_output=True, text=True, timeout=60, env=clean_env()
        )
        facts = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if facts is None:
        return None
    if command or facts["implementation"] != "CPython" or not facts["path"]:
        facts["path"] = path
    return Interpreter(**facts, command=tuple(command))


# Jython runs on a JVM, which reserves more address space than an example may use unless
# it is told to stay small: its command starts the JVM directly, with these limits.
JVM_LIMITS = ("-Xmx256m", "-Xss1m", "-XX:CompressedClassSpaceSize=64m", "-XX:ReservedCodeCacheSize=64m",
              "-XX:MaxMetaspaceSize=256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


def _jython_command(wrapper: str) -> tuple[str, ...]:
    """The JVM command that Debian's `jython` script runs, with the limits above."""
    text = Path(wrapper).read_text(encoding="utf-8", errors="replace")
    jar = re.search(r"-jar\s+(\S+\.jar)", text)
    java = shutil.which("java")
    if jar is None or java is None:
        return ()
    home = Path(os.path.realpath(wrapper)).parent.parent
    return (java, *JVM_LIMITS, "-jar", jar[1], f"-Dpython.home={home}", f"-Dpython.executable={wrapper}")


def discover_others() -> list[Interpreter]:
    """Other implementations on PATH, for examples that name them (`versions="pypy,jython"`):
    PyPy (`pypy3`) and Jython (`jython`)."""
    found = []
    for name in ("pypy3", "jython"):
        path = shutil.which(name)
        if path is None:
            continue
        command = _jython_command(path) if name == "jython" else ()
        if name == "jython" and not command:
            continue
        interpreter = probe(path, command)
        if interpreter is not None:
            found.append(interpreter)
    return found


def newest_native(matrix: list[Interpreter]) -> Interpreter:
    """The default for an example that names no version: the newest native CPython of the
    matrix (the build's own interpreter if the matrix has none)."""
    natives = [i for i in matrix if i.platform == "native" and i.implementation == "CPython"]
    return max(natives, key=lambda i: i.version_key) if natives else build_interpreter()


@cache
def build_interpreter() -> Interpreter:
    """The interpreter running this build (`versions="build"`)."""
    found = probe(sys.executable)
    if found is None:  # pragma: no cover - the build's own Python always runs
        raise EngineError(f"cannot run the build's own interpreter {sys.executable}")
    return found


def candidate_paths(pyenv_root: str | None = None) -> list[str]:
    """Where CPython interpreters usually are: `python3.X` on PATH, then pyenv's installs.

    Every candidate is probed before it is used. pyenv's `python3.X` shims on PATH are
    left out: a shim runs one of pyenv's installs, listed here anyway, when it resolves at
    all, and most do not (a failed probe, about 0.12 s, is not kept, so each build paid
    it again for every shim).
    """
    root = pyenv_root or os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    shims = Path(root, "shims")
    paths = [sys.executable]
    for minor in range(8, 20):
        for directory in os.environ.get("PATH", "").split(os.pathsep):
            candidate = Path(directory, f"python3.{minor}")
            if candidate.parent != shims and candidate.is_file() and os.access(candidate, os.X_OK):
                paths.append(str(candidate))
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

# Runtimes that are not an executable of their own (CPython on WebAssembly, wasm.py), by
# their interpreter's path: runs on those interpreters go to them.
RUNTIMES: dict[str, Any] = {}


def helper_files() -> dict[str, str]:
    """The helper modules, by file name, for runtimes that cannot read the build's folders."""
    return {p.name: p.read_text(encoding="utf-8") for d in HELPER_PATH for p in sorted(Path(d).glob("*.py"))}


def needs_of(options: dict[str, str]) -> set[str]:
    """What a fence's `needs="threads,subprocess"` option declares."""
    return {need.strip() for need in options.get("needs", "").split(",") if need.strip()}


# The other implementations a block can name in versions=, by the word it uses.
OTHER_IMPLEMENTATIONS = {"pypy": "PyPy", "jython": "Jython", "micropython": "MicroPython"}


@dataclass(frozen=True)
class Choice:
    """The runtimes a block's `versions=` option names, as far as this machine has them."""

    interpreters: list[Interpreter]
    absent: list[str]  # runtimes of the site this machine lacks, e.g. "CPython 3.14", "PyPy"
    unknown: list[str]  # words that name no runtime of the site


def choose(versions: str, matrix: list[Interpreter], default: Interpreter,
           others: list[Interpreter] | None = None, site_versions: list[str] | None = None) -> Choice:
    """The interpreters a block's `versions=` option names ("" for `default` alone; "all"
    for every CPython version of the site; minors such as "3.12,3.13"; "pypy", "jython" or "micropython"
    for the other implementations, as in "all,pypy,jython"; "build" for the interpreter
    running the build, whose environment has the site's own requirements, such as Jinja). `site_versions` are the
    CPython minors the site shows (the matrix's own by default): one the matrix lacks is
    absent from this build, not unknown."""
    if not versions:
        return Choice([default], [], [])
    have = {i.minor for i in matrix}
    site = list(site_versions or sorted(have, key=lambda minor: tuple(map(int, minor.split(".")))))
    chosen: list[Interpreter] = []
    absent: list[str] = []
    unknown: list[str] = []
    for word in (v.strip() for v in versions.split(",")):
        if word == "build":
            found = [build_interpreter()]
        elif word == "all":
            found = list(matrix)
            absent += [f"CPython {minor}" for minor in site if minor not in have]
        elif word.isalpha():
            found = [i for i in others or [] if i.implementation.lower() == word]
            if not found:
                (absent if word in OTHER_IMPLEMENTATIONS else unknown).append(OTHER_IMPLEMENTATIONS.get(word, word))
        else:
            found = [i for i in matrix if i.minor == word]
            if not found:
                (absent if word in site else unknown).append(f"CPython {word}" if word in site else word)
        chosen += [i for i in found if i not in chosen]
    if not chosen and not absent:
        chosen = [default]
    return Choice(chosen, list(dict.fromkeys(absent)), unknown)


# The folders examples may not write: the checkout this engine belongs to (the plugin adds
# the site's own folder). The sandbox mounts them read-only for the example.
PROTECTED: list[str] = [str(Path(__file__).resolve().parents[1])]
SANDBOX = Path(__file__).with_name("sandbox.py")
STAND_IN_ROOT = "/tmp"  # outputs name an example's folders /tmp/example, /tmp/example-home...
# A pids cgroup (cgroup v1, writable as root in CI) bounds the number of processes; where it
# is missing, the other limits still hold.
PIDS_CGROUP = Path("/sys/fs/cgroup/pids")


@dataclass(frozen=True)
class Limits:
    """What one example may use. Past `output` bytes its output is cut and it is ended."""

    memory: int = 2 << 30  # bytes of address space
    file_size: int = 64 << 20  # bytes of any one file it writes
    processes: int = 256
    output: int = 1 << 20


LIMITS = Limits()


def plain_env(home: str, tmp: str, helpers: str | None = None) -> dict[str, str]:
    """The environment examples see: an allow-list, nothing from the build's environment
    (no tokens or keys, no PYTHON* settings: a build machine's PYTHONDONTWRITEBYTECODE would
    silently break a `__pycache__` demonstration). Pager and terminal are plain for `help()`."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PAGER": "cat",
        "TERM": "dumb",
        "COLUMNS": "80",
    }
    if helpers:
        env["PYTHONPATH"] = helpers
    return env


def clean_env() -> dict[str, str]:
    """The allow-listed environment for the engine's own short runs (probing an interpreter)."""
    return plain_env(tempfile.gettempdir(), tempfile.gettempdir())


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """Control characters an example wrote, made visible: an escape sequence must not recolour
    or hide the build log, and a right-to-left override must not reorder a page. C0 controls
    become their Unicode pictures (ESC is U+241B), bidirectional controls their code point."""

    def show(match: re.Match[str]) -> str:
        char = match.group()
        if char == "\x7f":
            return "\u2421"
        if ord(char) < 0x20:
            return chr(0x2400 + ord(char))
        return f"<U+{ord(char):04X}>"

    return _CONTROL.sub(show, text.replace("\r\n", "\n"))


@dataclass(frozen=True)
class Run:
    """What one example did: everything it wrote, and how it ended."""

    output: str
    returncode: int
    timed_out: bool
    seconds: float
    flooded: bool = False
    """It wrote more than Limits.output: its output is cut there and it was ended."""
    results: str = ""
    """What a driver (transcript, timing) reported through its own channel."""
    finished: float = 0.0
    """When it ended, in seconds since the epoch (set by `cached`, and kept in the cache):
    a page says when its outputs were produced."""
    cpu: float | None = None
    """The CPU seconds of the example and every process it started, as the launch server
    measured them (None where it could not: the fallback sandbox, WebAssembly)."""

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.flooded


class Box:
    """The temporary folders of one example, outside the checkout: `work` (its working
    folder), `home`, `tmp`, and `helpers` (copies of the helper modules, so that nothing
    points into the checkout). Removed whole on exit."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="pylive-"))
        self.work, self.home, self.tmp, self.helpers = (self.base / n for n in ("work", "home", "tmp", "helpers"))
        for folder in (self.work, self.home, self.tmp, self.helpers):
            folder.mkdir()
        for source in HELPER_PATH:
            for module in Path(source).glob("*.py"):
                shutil.copyfile(module, self.helpers / module.name)

    def __enter__(self) -> Box:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def env(self) -> dict[str, str]:
        return plain_env(str(self.home), str(self.tmp), str(self.helpers) if HELPER_PATH else None)

    def stand_ins(self, text: str) -> str:
        """The box's random folder names replaced by the fixed names the about page explains,
        so that an output says the same on every run and no build machine shows in it."""
        for folder, name in ((self.work, "example"), (self.home, "example-home"), (self.tmp, "example-tmp"),
                             (self.helpers, "example-helpers"), (self.base, "example-box")):
            text = text.replace(str(folder), f"{STAND_IN_ROOT}/{name}")
        return text

    def run(self, argv: list[str], stdin: str = "", timeout: float = 10.0, results: bool = False) -> Run:
        """Run argv in this box (see run_sandboxed)."""
        return run_sandboxed(argv, stdin, timeout, self, results)


def _pids_cgroup(limit: int) -> Path | None:
    try:
        folder = PIDS_CGROUP / "pylive" / f"{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}"
        folder.mkdir(parents=True)
        (folder / "pids.max").write_text(str(limit))
        return folder
    except OSError:
        return None


def _remove_cgroup(folder: Path | None) -> None:
    for _ in range(100):  # the namespace's processes may take a moment to go
        try:
            if folder is not None:
                folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


def _settings(argv: list[str], cwd: Path | str, limits: Limits, fds: list[int], cgroup: Path | None,
              host: bool = False) -> dict:
    """What sandbox.py needs to know: see its docstring."""
    return {
        "argv": argv, "cwd": str(cwd), "readonly": sorted(set(PROTECTED)), "fds": fds,
        "memory": limits.memory, "file_size": limits.file_size, "cgroup": str(cgroup) if cgroup else None,
        **early.quiet.placement(host),
    }


def sandbox_command(argv: list[str], cwd: Path | str, limits: Limits = LIMITS, fds: list[int] | None = None,
                    cgroup: Path | None = None, host: bool = False) -> list[str]:
    """The command that runs argv inside the sandbox (sandbox.py): in the folder cwd, with the
    checkout read-only, the limits, and the file descriptors fds kept open. A `host` serves
    many examples (see _QuietCore.placement)."""
    settings = _settings(argv, cwd, limits, fds or [], cgroup, host)
    return [sys.executable, "-I", "-S", str(SANDBOX), json.dumps(settings)]


class _Launched:
    """A sandbox started by the launch server, with what run_sandboxed uses of a Popen."""

    def __init__(self, pid: int, reply: socket.socket, rest: bytes) -> None:
        self.pid = pid  # also its process group
        self._reply = reply
        self._said = rest
        self.returncode: int | None = None
        self.cpu: float | None = None

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.returncode is None:
            if b"\n" in self._said:  # "status cpu-seconds"
                status, _, cpu = self._said.split(b"\n")[0].partition(b" ")
                self.returncode, self.cpu = int(status), float(cpu) if cpu else None
                break
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._reply], [], [], left)[0]:
                raise subprocess.TimeoutExpired("sandbox", timeout)
            chunk = self._reply.recv(64)
            if not chunk:  # ended without a word: killed
                self.returncode = -signal.SIGKILL
            self._said += chunk
        self._reply.close()
        return self.returncode

    def terminate(self) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


class _LaunchServer:
    """sandbox.py running as a launch server (`--serve`), started on first use: a sandbox
    is then a fork of a process that has already imported what it needs, not the start of
    an interpreter. Where it cannot run (no Unix sockets that carry file descriptors), or
    stops answering, `launch` returns None and the caller starts sandbox.py itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._control: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def launch(self, settings: dict, fds: list[int]) -> _Launched | None:
        """Start a sandbox with `fds`: its stdin, its output, then the ones it keeps."""
        if not hasattr(socket, "send_fds"):
            return None
        reply, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                if self._process is None or self._process.poll() is not None:
                    self._start()
                assert self._control is not None
                socket.send_fds(self._control, [json.dumps(settings).encode()], [theirs.fileno(), *fds])
        except OSError:
            self.stop()
            reply.close()
            return None
        finally:
            theirs.close()
        said = b""
        while b"\n" not in said:  # its process id, once it has forked
            if not select.select([reply], [], [], 30)[0]:
                break
            chunk = reply.recv(64)
            if not chunk:
                break
            said += chunk
        if b"\n" not in said:
            reply.close()
            return None
        pid, _, rest = said.partition(b"\n")
        return _Launched(int(pid), reply, rest)

    def _start(self) -> None:
        self.stop()
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", str(SANDBOX), "--serve", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
            )
            early.quiet.host(self._process.pid, tree=False)
        finally:
            theirs.close()

    def stop(self) -> None:
        """Close the server's socket: it ends when it reads that (sandboxes it started run on)."""
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            early.quiet.host(self._process.pid, running=False)
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


LAUNCHER = _LaunchServer()


def run_sandboxed(argv: list[str], stdin: str, timeout: float, box: Box, results: bool = False,
                  limits: Limits | None = None) -> Run:
    """Run argv in the sandbox (sandbox.py) in `box`, and read what it writes up to the
    output limit; when it ends, times out or floods, its whole process tree is ended and
    every wait is bounded. With `results`, a pipe outside the box carries what a driver
    reports: its file descriptor replaces "{results}" in argv."""
    limits = limits or LIMITS
    started = time.perf_counter()
    stdin_file = box.base / "stdin"
    stdin_file.write_text(stdin, encoding="utf-8")
    read_results, write_results = os.pipe() if results else (-1, -1)
    argv = [a.replace("{results}", str(write_results)) for a in argv]
    cgroup = _pids_cgroup(limits.processes)
    kept = [write_results] if results else []
    output_fd, write_output = os.pipe()
    with open(stdin_file, "rb") as given:
        settings = _settings(argv, box.work, limits, kept, cgroup)
        child: _Launched | subprocess.Popen[bytes] | None = LAUNCHER.launch(
            {**settings, "env": box.env}, [given.fileno(), write_output, *kept])
        if child is None:  # a session of its own: here nice does not rank it below the timing runs
            child = subprocess.Popen(
                [sys.executable, "-I", "-S", str(SANDBOX), json.dumps(settings)],
                cwd=box.work, env=box.env, stdin=given, stdout=write_output, stderr=write_output,
                pass_fds=tuple(kept), start_new_session=True,
            )
    os.close(write_output)
    if results:
        os.close(write_results)
    streams = {output_fd: bytearray()} | ({read_results: bytearray()} if results else {})
    caps = {output_fd: limits.output, read_results: 8 * limits.output}
    try:
        deadline = first = time.monotonic() + timeout
        while True:
            timed_out, flooded = _read(streams, caps, deadline)
            if not timed_out:
                break
            # Time spent ready to run but without a core (a busy build, examples at the
            # lowest priority) is not the example's: it gets that much longer, up to a bound.
            later = first + min(_waiting_for_a_core(child.pid), (STARVED_AT_MOST - 1) * timeout)
            if later - deadline < 0.01:
                break
            deadline = later
        if timed_out or flooded:
            end_sandbox(child)
        try:
            returncode = child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            end_sandbox(child)
            returncode = child.wait(timeout=5)
        # The namespace is gone and with it every writer; in the fallback sandbox a stray
        # writer may still hold a pipe: read what is there, for a moment at most.
        _read(streams, caps, time.monotonic() + 0.5)
    finally:
        os.close(output_fd)
        if results:
            os.close(read_results)
        _remove_cgroup(cgroup)
    output = visible(bytes(streams[output_fd][: limits.output]).decode("utf-8", "replace"))
    if flooded:
        output += f"\n[output cut: the example wrote more than {limits.output // 1024} KB]\n"
    return Run(
        output=box.stand_ins(_without_sandbox_notice(output)),
        returncode=returncode,
        timed_out=timed_out,
        seconds=time.perf_counter() - started,
        flooded=flooded,
        results=box.stand_ins(bytes(streams[read_results]).decode("utf-8", "replace")) if results else "",
        cpu=child.cpu if isinstance(child, _Launched) else None,
    )


FALLBACK_NOTICE = "pylive-sandbox: no namespaces"
fallback_notices: set[str] = set()
"""The fallback sandbox's notices, for the build log (the plugin reports them once)."""


def machine_free(text: str, interpreter: Interpreter) -> str:
    """An output with the build machine's own paths replaced by the stand-ins the about page
    explains: the interpreter's installation folder, and the checkout."""
    if len(interpreter.prefix) > 1:
        text = text.replace(interpreter.prefix, f"/<{interpreter.implementation.lower()}-{interpreter.version}>")
    for folder in sorted(PROTECTED, key=len, reverse=True):
        text = text.replace(folder, "/<checkout>")
    return text


def machine_paths(text: str) -> list[str]:
    """The build machine's paths an output still shows (its home, the checkout)."""
    home = str(Path.home())
    found = [folder for folder in PROTECTED if folder in text]
    if len(home) > 1 and re.search(re.escape(home) + r"(/|\b)", text):
        found.append(home)
    return found


def _without_sandbox_notice(output: str) -> str:
    first, _, rest = output.partition("\n")
    if first.startswith(FALLBACK_NOTICE):
        fallback_notices.add(first)
        return rest
    return output


def _read(streams: dict[int, bytearray], caps: dict[int, int], deadline: float) -> tuple[bool, bool]:
    """Read the streams until all are closed: (timed out, a stream went over its cap)."""
    with selectors.DefaultSelector() as selector:
        for fd in streams:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        open_fds = set(streams)
        while open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                return True, False
            for key, _ in selector.select(left):
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(key.fd)
                    open_fds.discard(key.fd)
                    continue
                streams[key.fd] += chunk
                if len(streams[key.fd]) > caps[key.fd]:
                    return False, True
    return False, False


STARVED_AT_MOST = 4  # a run ends by this many times its timeout, however long it waited for a core


def _waiting_for_a_core(pid: int) -> float:
    """Seconds the sandbox started as `pid` has spent ready to run but waiting for a core:
    the most that any of its live threads has (a program that waits for its children does
    not wait for a core itself), from the kernel's scheduler statistics."""
    most = 0
    for process in [pid, *_descendants(pid)]:
        for thread in _threads(process):
            try:
                most = max(most, int(Path(f"/proc/{process}/task/{thread}/schedstat").read_text().split()[1]))
            except (OSError, IndexError, ValueError):  # it has ended
                continue
    return most / 1e9


def end_sandbox(child: _Launched | subprocess.Popen[bytes], grace: float = 2.0) -> None:
    """End a sandbox and everything in it: SIGTERM lets it kill its namespace; then SIGKILL
    to its process group, in case the sandbox itself does not answer."""
    try:
        child.terminate()
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except OSError:
        pass


def run_child(argv: list[str], stdin: str, timeout: float, results: bool = False) -> Run:
    """Run argv sandboxed, in a box of its own."""
    with Box() as box:
        return box.run(argv, stdin, timeout, results)


def _cache_file(*key: object) -> Path | None:
    """Where a result is cached when `PYLIVE_CACHE` names a folder (as `make serve` does).

    The key is the exact code, the exact interpreter (path and version) and the helper
    modules' names and contents, so a cached output is what this interpreter printed for
    this code. Where the checkout is is not part of it (no output may show a path of the
    build machine; the build checks that), so a copy of the repository, such as the one
    tests/test_serve.py serves, finds the results of the original.
    """
    folder = os.environ.get("PYLIVE_CACHE")
    if not folder:
        return None
    helpers = sorted((index, p.name, p.read_text(encoding="utf-8"))
                     for index, d in enumerate(HELPER_PATH) for p in Path(d).glob("*.py"))
    digest = hashlib.sha256(json.dumps([key, helpers], default=str).encode()).hexdigest()
    return Path(folder, digest[:2], digest + ".json")


def cached(compute: Callable[[], T], kind: type[T], *key: object) -> T:
    """`compute()`, stamped with the time it finished, or its earlier result for the same
    key (with the time that one finished); failures are never cached.

    An entry is written whole or not at all (a temporary file renamed into place), and an
    entry that cannot be read back (cut short, from another version of the engine) is a
    miss: it is computed again, never taken as an empty result."""
    path = _cache_file(kind.__name__, *key)
    stamped = "finished" in getattr(kind, "__dataclass_fields__", {})  # runs say when they finished
    if path is not None:
        try:
            earlier = json.loads(path.read_text(encoding="utf-8"))
            if earlier.get("finished") or not stamped:  # runs of an engine that did not stamp them: misses
                return kind(**earlier)
        except (OSError, ValueError, TypeError, AttributeError):
            pass
    result = compute()
    if stamped and result is not None:
        result = replace(result, finished=time.time())  # type: ignore[type-var]
    if path is not None and result is not None and getattr(result, "succeeded", True):
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, suffix=".tmp",
                                         delete=False) as partial:
            json.dump(asdict(result), partial)
        os.replace(partial.name, path)
    return result


def _descendants(pid: int) -> list[int]:
    """The processes started by `pid`, and by them, and so on."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        try:
            stat = Path(entry.path, "stat").read_text() if entry.name.isdigit() else ""
        except OSError:  # it has ended
            continue
        if stat:
            children.setdefault(int(stat.rpartition(")")[2].split()[1]), []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        found.append(todo.pop())
        todo.extend(children.get(found[-1], []))
    return found


def tree_cpu(pid: int) -> float:
    """The CPU seconds that process `pid` and its live descendants have used so far (each
    process with all its threads)."""
    ticks = 0
    for process in [pid, *_descendants(pid)]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rpartition(")")[2].split()
        except OSError:  # it has ended
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _threads(pid: int) -> list[int]:
    """The thread ids of process `pid` (none once it has ended)."""
    try:
        return [int(thread) for thread in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def _pin(pid: int, cpus: set[int]) -> None:
    """Set the CPU affinity of every thread of process `pid` (threads and processes it
    starts later inherit it)."""
    for thread in _threads(pid):
        try:
            os.sched_setaffinity(thread, cpus)
        except OSError:
            pass


class _QuietCore:
    """Where the runs that measure time run: one at a time, in a lane of their own.

    A `quiet` run (a timeit block, an example that declares needs="timing") runs on a core
    kept for it, at normal priority, while the build keeps its own threads, the launch
    server and the WebAssembly hosts off that core and runs every other example at the
    lowest priority (nice 19). When no such run is pending, every core is everyone's
    again. So timings need not wait until every other example has run, nor the other
    examples for the timings, and pages render as soon as their examples are done.

    An `alone` run (one that also declares needs="cores": it measures work spread over
    several cores) first waits until nothing else runs (`before`: the examples started
    early are done), then has every core. The build starts those before anything else.

    An example is never pinned: it may use every core the build was given and sees them
    all in os.sched_getaffinity (an example about cores would otherwise print how busy the
    build happened to be). With a single core there is nothing to keep apart: every run of
    the lane is then an `alone` run."""

    NICE = 19  # the priority of every example but those of the lane

    def __init__(self) -> None:
        self.cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
        self.core = max(self.cores) if len(self.cores) > 1 and Path("/proc/self/task").is_dir() else None
        self.lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pylive-quiet")
        self.before: Callable[[], None] = lambda: None
        self._lock = threading.Lock()
        self._pending = 0  # quiet runs submitted, not yet ended
        self._here = threading.local()
        self._hosts: dict[int, bool] = {}  # pid: with its descendants
        self._idle = threading.Condition(self._lock)

    def submit(self, function: Callable[..., T], *args: Any, alone: bool = False) -> Future[T]:
        alone = alone or self.core is None
        if not alone:
            with self._lock:
                self._pending += 1
                if self._pending == 1:
                    self._keep_off()
        return self.lane.submit(self._run, alone, function, *args)

    def _run(self, alone: bool, function: Callable[..., T], *args: Any) -> T:
        try:
            if alone:
                self.before()
            self._here.place = "alone" if alone else "quiet"
            return function(*args)
        finally:
            self._here.place = ""
            if not alone:
                with self._lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._keep_off()
                        self._idle.notify_all()

    def wait_idle(self) -> None:
        """Until no run of the lane is pending. For a program that runs at the lowest priority
        but in a session of its own (a Jupyter kernel), where its nice would not rank it
        below the timing runs (see placement), and that may not be kept off their core,
        because what it prints must not depend on the build (a lab prints its usable cores)."""
        with self._idle:
            self._idle.wait_for(lambda: self._pending == 0)

    def host(self, pid: int, tree: bool = True, running: bool = True) -> None:
        """A long-lived process of the build that started, or (`running=False`) ended: kept
        off the quiet core like the build's own threads, with its descendants if `tree` (a
        WebAssembly host, whose Python cannot see its cores; not the launch server, whose
        descendants are examples)."""
        with self._lock:
            if running:
                self._hosts[pid] = tree
                self._keep_off({pid: tree})
            else:
                self._hosts.pop(pid, None)

    def _keep_off(self, hosts: dict[int, bool] | None = None) -> None:
        """Pin the build's threads and its hosts to every core but the quiet one while quiet
        runs are pending, to every core otherwise."""
        if self.core is None:
            return
        cpus = self.cores - {self.core} if self._pending else self.cores
        if hosts is None:
            _pin(os.getpid(), cpus)
            hosts = self._hosts
        for pid, tree in hosts.items():
            for process in [pid, *(_descendants(pid) if tree else [])]:
                _pin(process, cpus)

    def placement(self, host: bool = False) -> dict[str, Any]:
        """The cores and priority of a sandbox started from this thread: for a run of the
        lane, its core (or every core) at normal priority; for an example, every core at the
        lowest priority; for a `host`, normal priority on the cores the build's threads have.

        A host leads a session of its own, which Linux schedules as a group (autogroup) in
        which nice ranks only the group's own processes: the lowest priority would not
        rank it below the timing runs. It is kept off their core instead. The examples do
        share one session, the launch server's, with the timing runs."""
        place = getattr(self._here, "place", "")
        if host:  # the cores of the build, which starts it, then those host() gives it
            return {"cpus": None, "nice": 0}
        if place == "quiet" and self.core is not None:
            return {"cpus": [self.core], "nice": 0}
        return {"cpus": sorted(self.cores) or None, "nice": 0 if place else self.NICE}


class _EarlyStart:
    """Runs started in the background before a page asks for them.

    The build knows every example before it renders the first page, and examples are
    independent programs, so it starts them all at once on every core (`start`); when a
    page then asks for the same run, it gets that result (`take`) instead of waiting for
    a new child. Anything not started early simply runs when asked. A run that measures
    time (`place` "quiet" or "alone") runs in the quiet core's lane instead, early or when asked.
    """

    def __init__(self) -> None:
        # Two more threads than cores: a native run waits for its processes to start and end.
        self.pool = ThreadPoolExecutor(max_workers=(os.cpu_count() or 1) + 2)
        # A runtime hosted by one process (WebAssembly) serves one example at a time: its runs
        # queue in a thread of their own, never holding the native runs' threads while they wait.
        self.queues: dict[str, ThreadPoolExecutor] = {}
        self.quiet = _QuietCore()
        self.quiet.before = self.wait
        self.started: dict[str, Future[Any]] = {}
        self._lane: set[Future[Any]] = set()
        self.taken = 0

    def start(self, function: Callable[..., Any], *args: Any, place: str = "") -> Future[Any] | None:
        """Start function(*args) in the background (args[1] is the interpreter of a run)."""
        key = repr((function.__name__, args))
        if key in self.started:
            return None
        if place:
            self.started[key] = future = self.quiet.submit(function, *args, alone=place == "alone")
            self._lane.add(future)
            return future
        path = args[1].path
        pool = self.pool
        if path in RUNTIMES:
            pool = self.queues.get(path) or self.queues.setdefault(path, ThreadPoolExecutor(max_workers=1))
        self.started[key] = future = pool.submit(function, *args)
        return future

    def take(self, function: Callable[..., T], *args: Any, place: str = "") -> T:
        future = self.started.pop(repr((function.__name__, args)), None)
        if future is None:
            return self.quiet.submit(function, *args, alone=place == "alone").result() if place else function(*args)
        self.taken += 1
        self._lane.discard(future)
        return future.result()

    def wait(self) -> None:
        """Let every early run but those of the quiet core's lane finish."""
        wait_for([future for future in self.started.values() if future not in self._lane])


early = _EarlyStart()


def place_of(needs: set[str]) -> str:
    """Where a run of an example with these needs= runs (see _QuietCore): "alone" for one
    that measures work on several cores, "quiet" for one that measures time, "" for others."""
    return "alone" if "cores" in needs else "quiet" if "timing" in needs else ""


def start_script(code: str, interpreter: Interpreter, timeout: float = 10.0, place: str = "") -> Future[Any] | None:
    """Start `run_script(code, interpreter, timeout, place)` in the background."""
    return early.start(_run_script, code, interpreter, timeout, place=place)


def start_transcript(statements: list[Statement], interpreter: Interpreter, timeout: float = 10.0,
                     place: str = "") -> Future[Any] | None:
    """Start `run_transcript(statements, interpreter, timeout, place)` in the background."""
    return early.start(_run_transcript, statements, interpreter, timeout, place=place)


def run_script(code: str, interpreter: Interpreter, timeout: float = 10.0, place: str = "") -> Run:
    """`python example.py` in a fresh temporary folder, or its result if started early;
    `place`: see place_of."""
    return early.take(_run_script, code, interpreter, timeout, place=place)


def run_transcript(statements: list[Statement], interpreter: Interpreter, timeout: float = 10.0,
                   place: str = "") -> TranscriptRun:
    """The transcript typed into an interactive interpreter, or its result if started early."""
    return early.take(_run_transcript, statements, interpreter, timeout, place=place)


def _run_script(code: str, interpreter: Interpreter, timeout: float = 10.0) -> Run:
    """Run `code` as a program (`python example.py`) in a fresh temporary folder.

    `-u` keeps stdout and stderr in the order they were written.
    """

    runtime = RUNTIMES.get(interpreter.path)
    if runtime is not None:
        def run_there() -> Run:
            done = runtime.run_script(code, timeout, helper_files())
            return replace(done, output=machine_free(done.output, interpreter))

        return cached(run_there, Run, code, interpreter, timeout)

    def run() -> Run:
        with Box() as box:
            (box.work / "example.py").write_text(code, encoding="utf-8")
            done = box.run([*interpreter.argv, "-u", "example.py"], "", timeout)
        return replace(done, output=machine_free(done.output, interpreter))

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

    @property
    def typed(self) -> str:
        """What a person types: a compound statement ends with an empty `...` line, without
        which the real prompt would keep waiting (and the next `>>>` would be a SyntaxError)."""
        lines = self.source.rstrip("\n").split("\n")
        compound = len(lines) > 1 and lines[-1].strip() and any(line[:1].isspace() for line in lines[1:])
        return self.prompted + ("\n..." if compound else "")


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
    seconds: float = 0.0
    finished: float = 0.0
    """When it ended, in seconds since the epoch (see Run.finished)."""
    cpu: float | None = None
    """See Run.cpu."""

    @property
    def succeeded(self) -> bool:
        return not self.timed_out and not self.error

    def complete(self, statements: list[Statement]) -> bool:
        return not self.timed_out and not self.error and len(self.outputs) == len(statements)


def _run_transcript(statements: list[Statement], interpreter: Interpreter, timeout: float = 10.0) -> TranscriptRun:
    """Type the statements into an interactive interpreter and collect what each one printed."""
    sources = [s.source for s in statements]

    runtime = RUNTIMES.get(interpreter.path)
    if runtime is not None:
        def run_there() -> TranscriptRun:
            started = time.perf_counter()
            outputs, timed_out, error = runtime.run_transcript(sources, timeout, helper_files())
            return TranscriptRun(outputs=[machine_free(visible(o), interpreter) for o in outputs],
                                 timed_out=timed_out, error=error,
                                 seconds=time.perf_counter() - started)

        return cached(run_there, TranscriptRun, sources, interpreter, timeout)

    def run() -> TranscriptRun:
        # The driver reports through a pipe outside the example's folder: a statement that
        # empties its folder cannot take the results with it.
        child = run_child([*interpreter.argv, "-u", str(REPL_DRIVER), "{results}"], json.dumps(sources), timeout,
                          results=True)
        outputs = []
        for line in child.results.splitlines():
            try:
                outputs.append(machine_free(visible(json.loads(line)), interpreter))
            except json.JSONDecodeError:
                break  # a statement that wrote to the driver's channel: reported below
        if child.timed_out or child.flooded:
            error = "" if child.timed_out else child.output
        elif child.returncode != 0:
            error = child.output or f"the interpreter exited with code {child.returncode}"
        elif len(outputs) != len(statements):
            error = (f"the transcript driver reported {len(outputs)} of {len(statements)} statements "
                     "(did a statement close or write to its channel?)")
        else:
            error = ""
        return TranscriptRun(outputs=outputs, timed_out=child.timed_out, error=error, seconds=child.seconds,
                             cpu=child.cpu)

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


# What `...` in a transcript's written output may stand for on its own: an address, an id
# or a hash, a version number (hex or decimal digits and dots), or a file path.
_VARYING = re.compile(r"[0-9a-fA-Fx.]*|\S*/\S*")


def _elided(written: str, actual: str) -> list[str] | None:
    """What each `...` of `written` stood for in `actual` (whitespace normalised as doctest's
    NORMALIZE_WHITESPACE does); None when they do not match."""
    written, actual = " ".join(written.split()), " ".join(actual.split())
    pattern = "(.*?)".join(re.escape(part) for part in written.split("..."))
    match = re.fullmatch(pattern, actual, re.DOTALL)
    return list(match.groups()) if match else None


def _compared(statement: Statement, actual: str) -> tuple[str, str]:
    """The written text and the part of the actual output that doctest compares with it."""
    if statement.exc_msg is None:
        return statement.expected, actual
    return statement.exc_msg, re.split(r"\n(?=\S)", actual.rstrip("\n"))[-1] + "\n"


def ellipsis_problems(statements: list[Statement], runs: list[TranscriptRun]) -> list[tuple[Statement, str]]:
    """Each `...` in a written output must stand for what really varies: an address, id,
    hash, version number or path, or text that differs between the runtimes the transcript
    ran under. One that hides the same words on every runtime hides a claim: write it out.
    (In a traceback, the lines between its first and last line are never compared.)"""
    problems = []
    for index, statement in enumerate(statements):
        written = statement.expected if statement.exc_msg is None else statement.exc_msg
        if "..." not in written:
            continue
        seen = [_elided(*_compared(statement, run.outputs[index])) for run in runs if index < len(run.outputs)]
        seen = [groups for groups in seen if groups is not None]
        for position in range(written.count("...")):
            texts = {groups[position] for groups in seen if position < len(groups)}
            if len(texts) == 1 and not _VARYING.fullmatch(text := texts.pop()):
                problems.append((statement, f"'...' stands for {text!r}, the same on every runtime: write it out"))
    return problems


def mismatches(statements: list[Statement], run: TranscriptRun) -> list[tuple[Statement, str]]:
    """Each statement whose actual output is not the written one, with what differs."""
    problems = []
    for statement, actual in zip(statements, run.outputs):
        if not output_matches(statement, actual):
            problems.append((statement,
                f"{statement.prompted.splitlines()[0]}\n"
                f"  expected: {statement.expected.rstrip() or '(nothing)'!r}\n"
                f"  got:      {actual.rstrip() or '(nothing)'!r}"
            ))
    return problems
