"""MicroPython's WebAssembly port (pylive/wasm.py MicroPythonRuntime, pylive/micropython_host.mjs).

Needs Node and `npm ci` (node_modules/@micropython/micropython-webassembly-pyscript).
Without them these tests skip, except when the environment variable CI is set: then they fail.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT
from pylive import engine, wasm

IN_CI = bool(os.environ.get("CI"))
SECRET = "pylive-test-secret-5c1e"


@pytest.fixture(scope="module")
def micropython() -> Iterator[wasm.MicroPythonRuntime]:
    """The runtime, started with a secret in this process's environment."""
    if shutil.which("node") is None or wasm.find_micropython(ROOT) is None:
        reason = f"Node or node_modules/{wasm.MICROPYTHON_PACKAGE} is missing: run npm ci"
        if IN_CI:
            pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
        pytest.skip(reason)
    runtime = wasm.find_micropython(ROOT)
    assert runtime is not None
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SECRET_TOKEN", SECRET)
        runtime.interpreter  # starts the host with the secret set
    yield runtime
    runtime.close()


def run(runtime: wasm.WasmRuntime, code: str, **options) -> engine.Run:
    return runtime.run_script(textwrap.dedent(code), **options)


# -- what the runtime is -------------------------------------------------------------


def test_the_label_says_exactly_what_ran(micropython: wasm.MicroPythonRuntime) -> None:
    interpreter = micropython.interpreter
    assert interpreter.label == "MicroPython 1.27.0 (Python 3.4.0) · WebAssembly"
    assert interpreter.short == "MicroPython 1.27.0 · WebAssembly"
    assert interpreter.implementation.lower() == "micropython"  # the word versions= uses
    assert {"threads", "subprocess", "sockets", "timing", "native"} <= interpreter.lacks
    assert interpreter.path == str(ROOT / "node_modules" / wasm.MICROPYTHON_PACKAGE)


def test_what_is_cpythons_own_is_not_there(micropython: wasm.MicroPythonRuntime) -> None:
    done = run(micropython, """
        import gc, sys
        print(sys.implementation.name, hasattr(sys, "getsizeof"), hasattr(sys, "getrefcount"))
        print(int("100000") is int("100000"))

        class Noisy:
            def __del__(self):
                print("__del__ ran")

        x = Noisy()
        del x
        gc.collect()
        print("end")
    """)
    assert done.output == "micropython False False\nTrue\nend\n", done.output


def test_a_missing_module_points_to_the_need(micropython: wasm.MicroPythonRuntime) -> None:
    done = run(micropython, "import threading")
    assert done.returncode == 1
    assert wasm.lacking(done.output) == "threads"


# -- scripts -------------------------------------------------------------------------


def test_stdout_and_stderr_interleave_in_the_order_written(micropython: wasm.MicroPythonRuntime) -> None:
    done = run(micropython, """
        import sys
        print("one", end=" ")
        print("two", file=sys.stderr)
        print("three")
    """)
    assert (done.output, done.returncode, done.timed_out) == ("one two\nthree\n", 0, False)


def test_a_traceback_names_example_py_and_exits_with_1(micropython: wasm.MicroPythonRuntime) -> None:
    done = run(micropython, """
        def divide():
            return 1 / 0
        divide()
    """)
    assert done.returncode == 1 and not done.succeeded
    assert done.output.splitlines() == [
        "Traceback (most recent call last):",
        '  File "/tmp/example/example.py", line 4, in <module>',
        '  File "/tmp/example/example.py", line 3, in divide',
        "ZeroDivisionError: divide by zero",
    ]


def test_exit_codes_are_those_of_a_program(micropython: wasm.MicroPythonRuntime) -> None:
    assert run(micropython, "raise SystemExit(3)").returncode == 3
    done = run(micropython, "import sys; sys.exit('bad input')")
    assert (done.output, done.returncode) == ("bad input\n", 1)
    assert run(micropython, "import sys; print('ok'); sys.exit()").returncode == 0


def test_the_example_runs_as_main_in_its_own_folder(micropython: wasm.MicroPythonRuntime) -> None:
    done = run(micropython, """
        import os, sys
        print(__name__, sys.argv, __file__, os.getcwd(), sys.path[0])
        print(sorted(globals()))
    """)
    assert done.output == ("__main__ ['example.py'] /tmp/example/example.py /tmp/example /tmp/example\n"
                           "['__file__', '__name__', 'os', 'sys']\n")


def test_nothing_of_one_example_is_seen_by_the_next(micropython: wasm.MicroPythonRuntime) -> None:
    # Each example looks for what the one before it planted, then plants it: of three in a
    # row, two follow each other in one worker thread unless every example has its own.
    example = """
        import js, os, sys
        print("leaked" in globals(), "planted" in sys.modules, "/planted" in sys.path,
              hasattr(js.globalThis, "planted"), "planted.txt" in os.listdir("/tmp"))
        leaked = 42
        sys.modules["planted"] = sys
        sys.path.append("/planted")
        js.globalThis.planted = 1
        open("/tmp/planted.txt", "w").write("x")
    """
    outputs = [run(micropython, example).output for _ in range(3)]
    assert outputs == ["False False False False False\n"] * 3


def test_node_reached_through_the_javascript_bridge_is_sandboxed(micropython: wasm.MicroPythonRuntime) -> None:
    # MicroPython's `js` module reaches Node's own modules; the host runs in the sandbox,
    # so they cannot write the checkout, see the build's processes or its environment.
    target = ROOT / "planted-by-micropython"
    done = run(micropython, f"""
        import js
        fs = js.process.getBuiltinModule("fs")
        print({os.getpid()} in [int(n) for n in fs.readdirSync("/proc") if n.isdigit()])
        print(sorted(js.Object.keys(js.process.env)))
        fs.writeFileSync({str(target)!r}, "x")
        print("written")
    """)
    assert not target.exists()
    # An error of JavaScript's own is no Python exception: it ends the example.
    assert done.output == f"False\n[]\n[the WebAssembly runtime crashed: Error: EROFS: read-only file system, open '{target}']\n"
    # The Node process itself gets an allow-listed environment, and its worker threads none.
    assert micropython._process is not None
    environ = Path(f"/proc/{micropython._process.pid}/environ").read_bytes().split(b"\0")
    assert sorted(entry.split(b"=")[0].decode() for entry in environ if entry) == ["HOME", "LANG", "LC_ALL", "PATH"]


def test_a_crash_of_the_runtime_fails_that_example_only(micropython: wasm.MicroPythonRuntime) -> None:
    # An exception of JavaScript's own unwinds through the WebAssembly runtime and ends its thread.
    done = run(micropython, "print('before')\nimport js\njs.eval('throw new Error(\"boom\")')\n")
    assert not done.succeeded and done.returncode == -11
    assert done.output == "before\n[the WebAssembly runtime crashed: Error: boom]\n"
    assert run(micropython, "print('next')").output == "next\n"


# -- transcripts ---------------------------------------------------------------------


def test_a_transcript_echoes_values_like_micropythons_repl(micropython: wasm.MicroPythonRuntime) -> None:
    sources = ["1 + 1\n", "x = 'spam'\n", "x\n", "for i in range(2):\n    print(i)\n", "None\n", "1 / 0\n", "x\n"]
    outputs, timed_out, error = micropython.run_transcript(sources, 10.0)
    assert (timed_out, error) == (False, "")
    assert outputs == ["2\n", "", "'spam'\n", "0\n1\n", "",
                       'Traceback (most recent call last):\n  File "<stdin>", line 1, in <module>\n'
                       "ZeroDivisionError: divide by zero\n",
                       "'spam'\n"]


def test_a_hanging_transcript_keeps_the_earlier_outputs(micropython: wasm.MicroPythonRuntime) -> None:
    outputs, timed_out, error = micropython.run_transcript(["1\n", "while True: pass\n", "2\n"], 1.0)
    assert (outputs, timed_out, error) == (["1\n"], True, "")


# -- discovery -----------------------------------------------------------------------


def test_find_micropython_without_node_or_the_package_is_none(tmp_path: Path) -> None:
    assert wasm.find_micropython(tmp_path) is None
    assert wasm.find_micropython(ROOT, node="no-such-node-binary") is None
