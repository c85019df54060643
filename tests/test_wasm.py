"""CPython 3.14 and 3.15 compiled to WebAssembly (pylive/wasm.py, pylive/wasm_host.mjs).

Needs Node and `npm ci` (node_modules/pyodide-314 and pyodide-315). Without them these
tests skip, except when the environment variable CI is set: then they fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ROOT
from pylive import engine, wasm
from test_micropython import micropython  # noqa: F401 - a fixture, for the tests every host passes

IN_CI = bool(os.environ.get("CI"))
SECRET = "pylive-test-secret-3f9a"


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping; run npm ci)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def runtimes() -> Iterator[dict[str, wasm.WasmRuntime]]:
    """Both runtimes, started with a secret in this process's environment."""
    if shutil.which("node") is None:
        _missing("Node is not installed")
    found = {r.package_dir.name: r for r in wasm.find_runtimes(ROOT)}
    if set(found) != set(wasm.PACKAGES):
        _missing(f"node_modules lacks {sorted(set(wasm.PACKAGES) - set(found))}: run npm ci")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SECRET_TOKEN", SECRET)
        with ThreadPoolExecutor() as pool:  # start both hosts at once, with the secret set
            list(pool.map(lambda runtime: runtime.run_script("pass"), found.values()))
        yield found
    for runtime in found.values():
        runtime.close()


@pytest.fixture(params=wasm.PACKAGES)
def runtime(request: pytest.FixtureRequest, runtimes: dict[str, wasm.WasmRuntime]) -> wasm.WasmRuntime:
    return runtimes[request.param]


@pytest.fixture
def py314(runtimes: dict[str, wasm.WasmRuntime]) -> wasm.WasmRuntime:
    return runtimes["pyodide-314"]


def run(runtime: wasm.WasmRuntime, code: str, **options) -> engine.Run:
    return runtime.run_script(textwrap.dedent(code), **options)


# -- what the runtimes are -----------------------------------------------------------


def test_the_probe_reports_the_pinned_versions(runtimes: dict[str, wasm.WasmRuntime]) -> None:
    i314 = runtimes["pyodide-314"].interpreter
    i315 = runtimes["pyodide-315"].interpreter
    assert (i314.version, i314.cache_tag, i314.minor) == ("3.14.2", "cpython-314", "3.14")
    assert (i315.version, i315.cache_tag, i315.minor) == ("3.15.0rc1", "cpython-315", "3.15")
    assert i314.label == "CPython 3.14.2 · WebAssembly"
    assert i315.label == "CPython 3.15.0rc1 · WebAssembly"
    assert isinstance(i314, engine.Interpreter)
    facts = runtimes["pyodide-314"].probe()
    assert (facts["platform"], facts["machine"], facts["sizeof_pointer"]) == ("emscripten", "wasm32", 4)


def test_dis_shows_the_bytecode_of_3_14(py314: wasm.WasmRuntime) -> None:
    done = run(py314, """
        import dis

        def add_one(a):
            return a + 1

        dis.dis(add_one)
    """)
    assert done.succeeded, done.output
    assert "LOAD_FAST_BORROW" in done.output
    assert "LOAD_SMALL_INT" in done.output
    assert "BINARY_OP                0 (+)" in done.output


def test_objects_have_wasm32_sizes_and_threads_cannot_start(runtime: wasm.WasmRuntime) -> None:
    done = run(runtime, """
        import sys, threading
        print(sys.getsizeof(0), sys.getsizeof([]), sys.maxsize == 2**31 - 1)
        threading.Thread(target=print).start()
    """)
    assert done.output.startswith("16 28 True\n")
    assert done.returncode == 1
    assert done.output.rstrip().endswith("RuntimeError: can't start new thread")


def test_the_small_int_cache_grew_in_3_15(runtimes: dict[str, wasm.WasmRuntime]) -> None:
    typed = ["a = 257\n", "b = 257\n", "a is b\n"]
    assert runtimes["pyodide-314"].run_transcript(typed, 10.0) == (["", "", "False\n"], False, "")
    assert runtimes["pyodide-315"].run_transcript(typed, 10.0) == (["", "", "True\n"], False, "")


# -- scripts -------------------------------------------------------------------------


def test_stdout_and_stderr_interleave_in_the_order_written(runtime: wasm.WasmRuntime) -> None:
    done = run(runtime, """
        import sys
        print("one")
        print("two", file=sys.stderr)
        print("three")
    """)
    assert (done.output, done.returncode, done.timed_out) == ("one\ntwo\nthree\n", 0, False)


def test_a_traceback_names_example_py_and_exits_with_1(runtime: wasm.WasmRuntime) -> None:
    done = run(runtime, """
        def divide():
            return 1 / 0
        divide()
    """)
    assert done.returncode == 1 and not done.succeeded
    lines = done.output.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1] == '  File "/tmp/example/example.py", line 4, in <module>'  # the stand-in folder name
    assert 'example.py", line 3, in divide' in done.output
    assert lines[-1] == "ZeroDivisionError: division by zero"
    assert "run_main" not in done.output and "<exec>" not in done.output


def test_exit_codes_are_those_of_a_program(runtime: wasm.WasmRuntime) -> None:
    assert run(runtime, "raise SystemExit(3)").returncode == 3
    done = run(runtime, "import sys; sys.exit('bad input')")
    assert (done.output, done.returncode) == ("bad input\n", 1)
    done = run(runtime, "import atexit; atexit.register(print, 'bye'); print('main')")
    assert (done.output, done.returncode) == ("main\nbye\n", 0)


def test_the_example_runs_as_main_with_stdin_at_its_end(runtime: wasm.WasmRuntime) -> None:
    done = run(runtime, """
        import sys
        print(__name__, sys.argv, __file__.endswith("/example.py"))
        print(repr(sys.stdin.read()))
    """)
    assert done.output == "__main__ ['example.py'] True\n''\n"


def test_a_variable_of_one_example_is_not_seen_by_the_next(runtime: wasm.WasmRuntime) -> None:
    assert run(runtime, "leaked = 42").succeeded
    done = run(runtime, "print(leaked)")
    assert done.returncode == 1
    assert "NameError: name 'leaked' is not defined" in done.output


def test_modules_and_interpreter_settings_do_not_leak(runtime: wasm.WasmRuntime) -> None:
    first = run(runtime, """
        import json, sys, types
        json.patched = True
        sys.modules["planted"] = types.ModuleType("planted")
        sys.setrecursionlimit(123)
        sys.path.append("/planted")
        import os; os.environ["PLANTED"] = "1"
        print(len(sys.modules))
    """)
    assert first.succeeded, first.output
    done = run(runtime, """
        import json, os, sys
        print(hasattr(json, "patched"), "planted" in sys.modules, sys.getrecursionlimit() == 123,
              "/planted" in sys.path, "PLANTED" in os.environ)
    """)
    assert done.output == "False False False False False\n"


def test_random_numbers_differ_from_one_example_to_the_next(runtime: wasm.WasmRuntime) -> None:
    # As in two runs of `python example.py`; the snapshot holds `random` already seeded.
    draws = {run(runtime, "import random\nprint(random.random())").output for _ in range(3)}
    assert len(draws) == 3, draws


def test_the_environment_of_the_build_is_not_visible(runtime: wasm.WasmRuntime) -> None:
    done = run(runtime, """
        import os
        print(sorted(os.environ))
        print(os.environ.get("SECRET_TOKEN"))
    """)
    assert SECRET not in done.output
    assert done.output.splitlines()[1] == "None"
    assert "PYTHONINSPECT" not in done.output
    # Nor does the Node process that hosts the runtime get it.
    process = runtime._process
    assert process is not None
    environ = Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0")
    names = sorted(entry.split(b"=")[0].decode() for entry in environ if entry)
    assert names == ["HOME", "LANG", "LC_ALL", "PATH"]


def test_node_reached_through_the_javascript_bridge_is_sandboxed(runtime: wasm.WasmRuntime) -> None:
    # Python in Pyodide can use Node's own modules; the host runs in the sandbox, so they
    # cannot write the checkout or see the build's processes.
    target = ROOT / "planted-by-wasm"
    done = run(runtime, f"""
        import js
        fs = js.process.getBuiltinModule("fs")
        try:
            fs.writeFileSync({str(target)!r}, "x")
            print("written")
        except Exception as error:
            print("refused:", str(error).split(",")[0])
        print({os.getpid()} in [int(n) for n in fs.readdirSync("/proc").to_py() if n.isdigit()])
    """)
    assert not target.exists()
    assert done.output == "refused: Error: EROFS: read-only file system\nFalse\n", done.output


@pytest.mark.parametrize("reach", ["import js", "js = __import__('j' + 's')"])
def test_javascript_globals_set_by_one_example_are_not_seen_by_the_next(py314: wasm.WasmRuntime, reach: str) -> None:
    assert run(py314, f"{reach}\njs.globalThis.planted = 1").succeeded
    for _ in range(py314.workers):  # whichever worker thread runs the next ones
        assert run(py314, "import js\nprint(hasattr(js, 'planted'))").output == "False\n"


def test_a_crash_of_the_runtime_fails_that_example_only(py314: wasm.WasmRuntime) -> None:
    # repr() of a deeply nested list recurses in C until the WebAssembly stack runs out.
    done = run(py314, """
        nested = []
        for _ in range(1_000_000):
            nested = [nested]
        print(len(repr(nested)))
    """, timeout=30.0)
    assert not done.succeeded
    assert "WebAssembly runtime crashed" in done.output
    assert run(py314, "print('next')").output == "next\n"


def test_a_dead_host_is_started_again(py314: wasm.WasmRuntime) -> None:
    process = py314._process
    assert process is not None
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done = run(py314, "print('alive')")
    assert done.output == "alive\n"
    assert py314._process is not None and py314._process.pid != process.pid


# -- what every WebAssembly host does alike (CPython's and MicroPython's) --------------


@pytest.fixture(params=[*wasm.PACKAGES, wasm.MICROPYTHON_PACKAGE])
def host(request: pytest.FixtureRequest) -> wasm.WasmRuntime:
    if request.param == wasm.MICROPYTHON_PACKAGE:
        return request.getfixturevalue("micropython")
    return request.getfixturevalue("runtimes")[request.param]


def test_a_helper_file_can_be_imported(host: wasm.WasmRuntime) -> None:
    files = {"helper.py": "ANSWER = 42\n", "pkg/__init__.py": "", "pkg/mod.py": "NAME = 'mod'\n"}
    done = run(host, "import helper, pkg.mod; print(helper.ANSWER, pkg.mod.NAME)", files=files)
    assert (done.output, done.returncode) == ("42 mod\n", 0)
    outputs, timed_out, error = host.run_transcript(["import helper\n", "helper.ANSWER\n"], 10.0, files)
    assert (outputs, timed_out, error) == (["", "42\n"], False, "")
    assert run(host, "import helper").returncode == 1  # and it is gone for the next one


def test_a_hanging_example_times_out_and_the_next_one_runs(host: wasm.WasmRuntime) -> None:
    started = time.monotonic()
    done = run(host, "print('before')\nwhile True:\n    pass\n", timeout=1.0)
    assert done.timed_out and not done.succeeded
    assert done.output == "before\n"
    assert time.monotonic() - started < 10
    assert run(host, "print('next')").output == "next\n"


def test_a_flood_of_output_is_cut(host: wasm.WasmRuntime) -> None:
    done = run(host, "while True:\n    print('x' * 999)\n", timeout=30.0)
    assert not done.succeeded and not done.timed_out
    assert len(done.output) <= wasm.MAX_OUTPUT + 200
    assert done.output.rstrip().endswith("KB]")
    assert run(host, "print('next')").output == "next\n"


def test_a_host_counts_the_cpu_time_of_its_runs(host: wasm.WasmRuntime) -> None:
    """What the build's summary reports for WebAssembly: the CPU of the host, whose worker
    threads restore an instance for each example and run it."""
    before = host.cpu_seconds()  # the instance it runs in may be restored already: count the work
    busy = "total = 0\nfor n in range(3000000):\n    total += n\nprint(total)"  # 0.3-1 s of CPU there
    assert run(host, busy, timeout=30.0).output == "4499998500000\n"
    assert host.cpu_seconds() - before >= 0.2


# -- the snapshot kept between hosts ---------------------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory,
              runtimes: dict[str, wasm.WasmRuntime]) -> Iterator[wasm.WasmRuntime]:
    """CPython 3.14 installed in a node_modules of its own (links to the real files), so
    that what these tests keep there is their own (and protected during them only). Its
    snapshot, once made, is shared by the tests that do not make one themselves."""
    package = tmp_path_factory.mktemp("installed") / "node_modules" / "pyodide-314"
    package.mkdir(parents=True)
    for file in runtimes["pyodide-314"].package_dir.iterdir():
        (package / file.name).symlink_to(file)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "PROTECTED", list(engine.PROTECTED))
        runtime = wasm.WasmRuntime(package, node=runtimes["pyodide-314"].node)
        yield runtime
        runtime.close()


def test_the_snapshot_a_host_makes_is_kept_and_the_next_host_starts_from_it(installed: wasm.WasmRuntime) -> None:
    kept = installed.kept_snapshot()
    installed.close()
    kept.unlink(missing_ok=True)
    assert run(installed, "print(6 * 7)").output == "42\n"
    assert kept.parent == installed.package_dir.parent / ".cache" / "pylive" and kept.stat().st_size > 1 << 20
    installed.close()
    kept.write_bytes(b"not a snapshot")  # a host that starts from it fails: a new one is made and kept
    assert run(installed, "print(6 * 7)").output == "42\n"
    assert kept.stat().st_size > 1 << 20


def test_a_snapshot_is_kept_for_exactly_the_files_it_is_made_of(installed: wasm.WasmRuntime, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    runner = tmp_path / "runner.py"
    runner.write_text("RUNNER = 1\n")
    monkeypatch.setattr(installed, "snapshot_code", (runner,))
    monkeypatch.setattr(installed, "_snapshot", None)
    first = installed.kept_snapshot()
    runner.write_text("RUNNER = 2\n")
    installed._snapshot = None
    assert installed.kept_snapshot() != first


def test_an_example_cannot_write_the_installed_runtime_or_its_kept_snapshot(installed: wasm.WasmRuntime) -> None:
    assert run(installed, "pass").succeeded  # a snapshot is made and kept
    kept = installed.kept_snapshot()
    done = run(installed, f"""
        import js
        fs = js.process.getBuiltinModule("fs")
        for path in ({str(kept)!r}, {str(installed.package_dir / "planted")!r}):
            try:
                fs.writeFileSync(path, "planted")
                print("written")
            except Exception as error:
                print("refused:", str(error).split(",")[0])
    """)
    assert done.output == "refused: Error: EROFS: read-only file system\n" * 2, done.output
    assert kept.stat().st_size > 1 << 20


def test_a_snapshot_planted_by_an_example_is_never_kept(installed: wasm.WasmRuntime) -> None:
    # Through the bridge an example can write the host's own folder, where a host that finds
    # no kept snapshot writes the one it makes, and end the host.
    done = run(installed, """
        import js
        fs = js.process.getBuiltinModule("fs")
        fs.writeFileSync(js.process.cwd() + "/made.snapshot", "planted")
        js.process.kill(js.process.pid, "SIGKILL")
    """)
    assert not done.succeeded
    kept = installed.kept_snapshot()
    kept.unlink()  # as if node_modules had none: the next host makes one
    assert run(installed, "print('next')").output == "next\n"
    assert kept.stat().st_size > 1 << 20


# -- transcripts ---------------------------------------------------------------------


def test_a_transcript_echoes_values_like_the_repl(runtime: wasm.WasmRuntime) -> None:
    sources = [
        "1 + 1\n",
        "x = 'spam'\n",
        "x\n",
        "for i in range(2):\n    print(i)\n",
        "None\n",
        "1 / 0\n",
        "x\n",
    ]
    outputs, timed_out, error = runtime.run_transcript(sources, 10.0)
    assert (timed_out, error) == (False, "")
    assert outputs[:5] == ["2\n", "", "'spam'\n", "0\n1\n", ""]
    assert outputs[5].startswith("Traceback (most recent call last):\n  File \"<stdin>\", line 1")
    assert outputs[5].endswith("ZeroDivisionError: division by zero\n")
    assert outputs[6] == "'spam'\n"


def test_a_hanging_transcript_keeps_the_earlier_outputs(py314: wasm.WasmRuntime) -> None:
    outputs, timed_out, error = py314.run_transcript(["1\n", "while True: pass\n", "2\n"], 1.0)
    assert (outputs, timed_out, error) == (["1\n"], True, "")


# -- discovery -----------------------------------------------------------------------


def test_find_runtimes_without_node_or_packages_is_empty(tmp_path: Path) -> None:
    assert wasm.find_runtimes(tmp_path) == []
    assert wasm.find_runtimes(ROOT, node="no-such-node-binary") == []
