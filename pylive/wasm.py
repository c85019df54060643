"""CPython compiled to WebAssembly (Pyodide under Node) as a runtime of the engine, and
MicroPython's WebAssembly port beside it (MicroPythonRuntime, at the end).

The npm packages `pyodide-314` (CPython 3.14.2) and `pyodide-315` (CPython 3.15.0rc1),
pinned in package.json and installed by `npm ci`, are each hosted by one long-lived Node
process running `wasm_host.mjs`, which speaks line-delimited JSON on stdin/stdout:

    ready    {"id": null, "ready": true, "seconds": <cold start>}          (first line)
    request  {"id", "kind": "script" | "transcript" | "probe", "code" | "statements",
              "files": {relative path: text}, "timeout": seconds, "max_output": chars}
    response {"id", "output", "returncode", "timed_out", "truncated", "crashed",
              "outputs": [one string per transcript statement], "seconds"}

A script runs as `__main__` from `<fresh folder>/example.py`, like `python -u example.py
2>&1` in a fresh temporary folder: stdout and stderr in the order written, an uncaught
exception printed by `sys.excepthook` (return code 1), SystemExit's code, atexit handlers.
A transcript runs the very `repl_driver.py` the native runtimes use. Helper `files` go to
a folder of their own at the front of `sys.path`, where PYTHONPATH puts the helper folders
natively. Python inside sees a fixed environment (HOME, LANG, LC_ALL, PAGER, TERM,
COLUMNS), never the build's; the Node process itself gets PATH, a temporary HOME and the
locale only.

Isolation, measured on the 2-core build machine (Node 20, Pyodide 314.0.7):

* cold start of a runtime (load, then `makeMemorySnapshot()`): 2.1 s for 3.14, 2.1-3.3 s
  for 3.15 (about 4 s of CPU), once per runtime and installation: the snapshot is kept in
  node_modules/.cache/pylive for the next host (WasmRuntime.kept_snapshot), which then
  starts in about 0.6 s;
* a fresh instance restored from the snapshot: 0.18-0.38 s;
* the example itself, once an instance is ready: 5-30 ms for a small script;
* reusing one instance with fresh globals and sys.modules/sys.path/cwd/stdout put back
  would cost about 1 ms, but leaves interpreter-wide state behind (interned strings, type
  caches, warning registries, atexit handlers, `sys.setrecursionlimit`, gc settings,
  modules' globals mutated in place, a crashed runtime) that examples about internals
  observe.

So every example gets a fresh instance restored from the snapshot. Two costs of a
restore are paid once instead: the WebAssembly module is compiled once per host and shared
with its worker threads, and a worker thread restores its next instance as soon as its
example ends (a new thread costs its own start-up and the parsing of Pyodide's JavaScript).
Back to back, an example then costs about 0.11 s instead of 0.33 s (20 runs of a small
`dis` example, 3.14). What the instances of one thread share is its JavaScript realm,
reachable from Python only through Pyodide's bridge (`js`, `pyodide`): a thread is retired
after an example whose source names the bridge or that imported `js`, and after 40
examples in any case. The Node process itself runs in the engine's sandbox, as examples do
natively: through the bridge Python can reach Node's modules, which then find the checkout
read-only and the build's processes out of sight. A
timeout or an output flood terminates that worker, and so does a crash of the runtime
(deep C recursion ends in "RangeError: Maximum call stack size exceeded"), which is
reported as a failed example with return code -11; the host lives on, and if the Node
process itself dies or hangs it is killed and started again for the next example.

Known differences from a native process, inherent in the platform: `sys.flags.inspect`
is 1 (the runtime must not finalize), `sys.executable` names the host script, modules
imported by Pyodide's own start-up are already in `sys.modules`, and the Python-level
outputs of `id()`, `sys.getsizeof()` and timings are those of wasm32. The secret of
`hash()` for str and bytes is the snapshot's, so every example of a runtime sees the same
`hash("abc")` (the runner seeds `random` afresh, as a new process does).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import resource
import select
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pylive import engine

HOST = Path(__file__).with_name("wasm_host.mjs")

# The runtimes find_runtimes looks for, as npm aliases in package.json.
PACKAGES = ("pyodide-314", "pyodide-315")

# MicroPython's WebAssembly port, hosted by micropython_host.mjs with the same protocol.
MICROPYTHON_HOST = Path(__file__).with_name("micropython_host.mjs")
MICROPYTHON_PACKAGE = "@micropython/micropython-webassembly-pyscript"

MAX_OUTPUT = 1 << 20  # characters of output kept per example
_MAX_LINE = 8 * MAX_OUTPUT  # one response line: the output JSON-escaped, and the rest
_START_TIMEOUT = 120.0  # seconds for the cold start of a runtime on a busy machine
_MARGIN = 20.0  # seconds past an example's timeout before the host counts as hung


# The Node host runs in the sandbox like every example (Python inside Pyodide can reach
# Node's own modules through its bridge to JavaScript). Its address space is not limited:
# V8 reserves several gigabytes of it for each WebAssembly memory, whose size wasm32 bounds.
HOST_LIMITS = dataclasses.replace(engine.LIMITS, memory=resource.RLIM_INFINITY)


@dataclass(frozen=True)
class WasmInterpreter(engine.Interpreter):
    """An interpreter that runs on WebAssembly: `CPython 3.14.2 · WebAssembly`."""

    platform = "WebAssembly"
    lacks = frozenset({"threads", "subprocess", "sockets", "timing", "cores", "native"})


class HostError(RuntimeError):
    """The Node host could not be started or stopped answering."""


class WasmRuntime:
    """One CPython-on-WebAssembly runtime, hosted by a Node process started on first use.

    Thread-safe: requests are served one at a time.
    """

    host = HOST  # the Node script that hosts it
    package_files = ("pyodide.asm.wasm", "package.json")  # what makes it this runtime (probes are kept for them)
    # What the memory snapshot a host starts from is made of: the runtime's files, and the
    # host and runner it holds. A snapshot is kept for the next host of exactly these.
    snapshot_files = ("pyodide.asm.wasm", "pyodide.asm.mjs", "pyodide.mjs", "python_stdlib.zip", "package.json")
    snapshot_code = (HOST, HOST.with_name("wasm_serve.mjs"), HOST.with_name("wasm_runner.py"))

    def __init__(self, package_dir: Path, node: str = "node", workers: int = 2) -> None:
        self.package_dir = Path(package_dir).resolve()
        # The installed runtimes, and the snapshots kept beside them, are never written by
        # an example, also where node_modules is not inside the checkout (a link to it).
        installed = self.package_dir.parent
        if not any(installed.is_relative_to(folder) for folder in engine.PROTECTED):
            engine.PROTECTED.append(str(installed))
        self.node = node
        # Worker threads, each restoring its next instance ahead of need: with two, one restores
        # while the other runs, and back-to-back examples took 74 ms each instead of 110 ms.
        self.workers = workers
        self.cold_start_seconds: float | None = None
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._home: tempfile.TemporaryDirectory[str] | None = None
        self._ended_cpu = 0.0  # the CPU seconds of the hosts it stopped
        self._buffer = b""
        self._next_id = 0
        self._interpreter: WasmInterpreter | None = None
        self._snapshot: Path | None = None

    def __repr__(self) -> str:
        return f"WasmRuntime({str(self.package_dir)!r})"

    # ------------------------------------------------------------------ public API

    @property
    def interpreter(self) -> WasmInterpreter:
        """What the runtime reports about itself (runs the probe once; with PYLIVE_CACHE, once
        for the very same package and Node, so that a build that runs nothing here does not
        start the host)."""
        if self._interpreter is None:
            files = [*(self.package_dir / name for name in self.package_files), Path(self.host)]
            node = shutil.which(self.node) or self.node
            identity = [(str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in [*files, Path(node)]]
            self._interpreter = engine.cached(self._probe_interpreter, WasmInterpreter, "wasm-probe", identity)
        return self._interpreter

    def _probe_interpreter(self) -> WasmInterpreter:
        facts = self.probe()
        fields = {name: facts[name] for name in engine.Interpreter.__dataclass_fields__ if name in facts}
        fields["path"] = str(self.package_dir)
        return WasmInterpreter(**fields)

    def probe(self) -> dict:
        """sys.version and friends, as `engine._PROBE` reports them, plus the platform."""
        answer = self._request({"kind": "probe"}, timeout=30.0)
        if answer["returncode"] != 0:
            raise HostError(f"the probe failed in {self.package_dir.name}: {answer['output']}")
        return json.loads(answer["output"])

    def run_script(self, code: str, timeout: float = 10.0, files: dict[str, str] | None = None) -> engine.Run:
        """`python -u example.py 2>&1` in a fresh folder of a fresh runtime instance."""
        started = time.perf_counter()
        answer = self._request({"kind": "script", "code": code, "files": files or {}}, timeout)
        fields = {
            "output": _full_output(answer),
            "returncode": answer["returncode"],
            "timed_out": answer["timed_out"],
            "seconds": answer.get("seconds") or time.perf_counter() - started,
            "flooded": bool(answer.get("truncated")),
        }
        return engine.Run(**{k: v for k, v in fields.items() if k in engine.Run.__dataclass_fields__})

    def run_transcript(
        self, sources: list[str], timeout: float = 10.0, files: dict[str, str] | None = None
    ) -> tuple[list[str], bool, str]:
        """The statements typed into `code.InteractiveConsole` by repl_driver.py:
        (output of each statement run, timed out, error of the driver or runtime)."""
        answer = self._request({"kind": "transcript", "statements": list(sources), "files": files or {}}, timeout)
        outputs = [stand_ins(engine.visible(text)) for text in answer["outputs"]]
        if answer["timed_out"]:
            error = ""
        elif answer["returncode"] != 0 or answer.get("truncated") or answer.get("crashed"):
            error = _full_output(answer) or f"the interpreter exited with code {answer['returncode']}"
        elif len(outputs) != len(sources):
            error = (f"the transcript driver reported {len(outputs)} of {len(sources)} statements "
                     "(did a statement close or write to its channel?)")
        else:
            error = ""
        return outputs, answer["timed_out"], error

    def close(self) -> None:
        """Stop the Node host (a later request starts it again)."""
        with self._lock:
            self._stop()
            if self._home is not None:
                self._home.cleanup()
                self._home = None

    def __enter__(self) -> WasmRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        try:
            self._stop()
        except Exception:
            pass

    # ------------------------------------------------------------------ the host

    def _env(self) -> dict[str, str]:
        """An allow-list: nothing of the build's environment but the search path."""
        assert self._home is not None
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": self._home.name,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }

    def kept_snapshot(self) -> Path | None:
        """Where the memory snapshot of this runtime is kept between hosts and builds: beside
        the installed packages (`npm ci` removes it with them), named by a digest of what it
        is made of, so that a changed runtime, host or runner makes a new one. A host that
        starts from it skips loading the runtime (about 4 s of CPU)."""
        if not self.snapshot_files:
            return None
        if self._snapshot is None:
            digest = hashlib.sha256()
            for path in [*(self.package_dir / name for name in self.snapshot_files), *self.snapshot_code]:
                digest.update(path.read_bytes())
            name = f"{self.package_dir.name}-{digest.hexdigest()[:16]}.snapshot"
            self._snapshot = self.package_dir.parent / ".cache" / "pylive" / name
        return self._snapshot

    def _keep_snapshot(self, made: Path, kept: Path) -> None:
        """Keep the snapshot a host made (written whole, then renamed into place), in place of
        the snapshots of this runtime's earlier files. Where node_modules is read-only, the
        next host makes its own again."""
        try:
            kept.parent.mkdir(parents=True, exist_ok=True)
            partial = kept.with_suffix(f".{os.getpid()}.tmp")
            shutil.move(made, partial)
            os.replace(partial, kept)
            for old in kept.parent.glob(f"{self.package_dir.name}-*.snapshot"):
                if old != kept:
                    old.unlink()
        except OSError:
            pass

    def _start(self) -> None:
        kept = self.kept_snapshot()
        try:
            self._start_host(kept if kept and kept.is_file() else None)
        except HostError:
            if not (kept and kept.is_file()):
                raise
            try:
                kept.unlink()  # unreadable to this host: make a new one
            except OSError:  # node_modules is read-only here: this host makes its own
                pass
            self._start_host(None)

    def _start_host(self, snapshot: Path | None) -> None:
        """Start the Node host from `snapshot`, or have it make one (then kept)."""
        if self._home is None:
            self._home = tempfile.TemporaryDirectory(prefix="pylive-node-")
        self._buffer = b""
        kept = self.kept_snapshot()
        made = Path(self._home.name, "made.snapshot")  # the host's folder: the only one it may write
        made.unlink(missing_ok=True)  # never what an earlier host here (or its examples) left
        try:
            argv = [self.node, str(self.host), str(self.package_dir), str(self.workers)]
            if kept:
                argv.append(str(snapshot or made))
            self._process = subprocess.Popen(
                engine.sandbox_command(argv, self._home.name, HOST_LIMITS, host=True),
                cwd=self._home.name,
                env=self._env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as error:
            raise HostError(f"cannot start {self.node}: {error}") from error
        engine.early.quiet.host(self._process.pid)
        ready = self._read_answer(time.monotonic() + _START_TIMEOUT)
        if ready is None or not ready.get("ready"):
            self._stop()
            raise HostError(f"the WebAssembly runtime {self.package_dir.name} did not start")
        self.cold_start_seconds = ready.get("seconds")
        if kept and not snapshot and made.is_file():  # before any example has run in this host
            self._keep_snapshot(made, kept)

    def cpu_seconds(self) -> float:
        """The CPU seconds its hosts have used so far: Node and its worker threads, which
        restore an instance for each example and run it."""
        process = self._process
        return self._ended_cpu + (engine.tree_cpu(process.pid) if process else 0.0)

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        self._ended_cpu += engine.tree_cpu(process.pid)
        engine.early.quiet.host(process.pid, running=False)
        engine.end_sandbox(process, grace=5.0)  # Node and every thread in its namespace
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        process.wait()

    def _read_answer(self, deadline: float) -> dict | None:
        """The next JSON line from the host; None if it ended, hung or sent too much."""
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or len(self._buffer) > _MAX_LINE:
                return None
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def _request(self, request: dict, timeout: float) -> dict:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._stop()
                self._start()
            assert self._process is not None and self._process.stdin is not None
            self._next_id += 1
            request = {**request, "id": self._next_id, "timeout": timeout, "max_output": MAX_OUTPUT}
            try:
                self._process.stdin.write(json.dumps(request).encode() + b"\n")
                self._process.stdin.flush()
                answer = self._read_answer(time.monotonic() + timeout + _MARGIN)
            except (OSError, ValueError):
                answer = None
            if answer is None or answer.get("id") != request["id"]:
                # The host died or hung: kill it; the next request starts a new one.
                hung = self._process.poll() is None
                self._stop()
                return {
                    "output": "",
                    "outputs": [],
                    "returncode": -9,
                    "timed_out": hung,
                    "truncated": False,
                    "crashed": "" if hung else "the WebAssembly host stopped",
                }
            return answer


# The host's random folder names, replaced by the stand-ins native runs use (engine.Box).
_FOLDERS = ((re.compile(r"/tmp/pylive-helpers-\w+"), "/tmp/example-helpers"),
            (re.compile(r"/tmp/pylive-(?!driver)\w+"), "/tmp/example"))


def stand_ins(text: str) -> str:
    for pattern, name in _FOLDERS:
        text = pattern.sub(name, text)
    return text


def _full_output(answer: dict) -> str:
    """The example's output, with a last line saying why it was cut or ended."""
    output = stand_ins(engine.visible(answer["output"]))
    notes = []
    if answer.get("truncated"):
        notes.append(f"[output cut: the example wrote more than {MAX_OUTPUT // 1024} KB]")
    if answer.get("crashed"):
        notes.append(f"[{answer['crashed']}]")
    if notes:
        output += ("" if not output or output.endswith("\n") else "\n") + "\n".join(notes) + "\n"
    return output


# What an example that failed on WebAssembly printed, when the reason is something the
# platform lacks: the need a fence declares with needs= to be shown as not run there.
# (MicroPython says "no module named" where CPython says "No module named".)
_LACKING = (
    ("threads", ("can't start new thread", "no module named 'threading'", "no module named '_thread'")),
    ("subprocess", ("_posixsubprocess", "does not support processes", "[Errno 52] Function not implemented",
                    "No module named 'venv'", "module 'venv' was not found", "no module named 'subprocess'",
                    "no module named 'multiprocessing'")),
    ("sockets", ("socket",)),
    ("timing", ("no module named 'timeit'",)),
    ("native", ("no module named 'ctypes'",)),
)


def lacking(output: str) -> str | None:
    """The need an example's failure on WebAssembly points to, if any."""
    return next((need for need, signs in _LACKING if any(sign in output for sign in signs)), None)


def _node(node: str) -> str | None:
    """The path of Node if it runs and is recent enough for the runtimes (18 or later)."""
    try:
        executable = shutil.which(node)
        if executable is None:
            return None
        done = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=30, env={"PATH": os.environ.get("PATH", "")}
        )
        major = done.stdout.strip().lstrip("v").split(".")[0]
        return executable if done.returncode == 0 and major.isdigit() and int(major) >= 18 else None
    except (OSError, subprocess.SubprocessError):
        return None


def find_runtimes(root: Path, node: str = "node") -> list[WasmRuntime]:
    """The WebAssembly runtimes installed under `root/node_modules` (by `npm ci`), if
    Node runs; an empty list otherwise. Nothing is started until a runtime is used."""
    executable = _node(node)
    if executable is None:
        return []
    found = []
    for name in PACKAGES:
        folder = Path(root, "node_modules", name)
        if (folder / "pyodide.mjs").is_file() and (folder / "pyodide.asm.wasm").is_file():
            found.append(WasmRuntime(folder, executable))
    return found


class MicroPythonRuntime(WasmRuntime):
    """MicroPython's WebAssembly port (npm: @micropython/micropython-webassembly-pyscript),
    for the pages about what is CPython's own: `MicroPython 1.27.0 (Python 3.4.0) · WebAssembly`.

    The same protocol, limits and sandbox as CPython on WebAssembly; micropython_host.mjs
    gives every example a worker thread of its own with a fresh instance (about 40 ms to
    make, so no snapshot is needed). A script runs as `micropython example.py` would, in
    /tmp/example; a transcript compiles each statement in "single" mode, which echoes
    values as MicroPython's REPL does. MicroPython lacks threads, subprocesses, sockets,
    meaningful timings and native code (WasmInterpreter.lacks), and, unlike CPython, has no
    reference counts (`__del__` of a plain class never runs), no `sys.getsizeof`, and small
    integers that are tagged values rather than objects (`is` compares them by value).
    """

    host = MICROPYTHON_HOST
    package_files = ("micropython.wasm", "micropython.mjs", "package.json")
    snapshot_files = ()


def find_micropython(root: Path, node: str = "node") -> MicroPythonRuntime | None:
    """MicroPython's WebAssembly port under `root/node_modules`, if it and Node are there."""
    folder = Path(root, "node_modules", MICROPYTHON_PACKAGE)
    if not ((folder / "micropython.mjs").is_file() and (folder / "micropython.wasm").is_file()):
        return None
    executable = _node(node)
    return MicroPythonRuntime(folder, executable) if executable else None
