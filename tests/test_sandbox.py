"""The sandbox every example runs in (pylive/sandbox.py, engine.run_sandboxed): what an
example can see, what it cannot do, and that it ends whole. Each test runs real examples."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import ROOT
from pylive import engine

PYTHON = engine.build_interpreter()


@pytest.fixture(autouse=True, params=["launch server", "started directly"])
def launch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test holds both ways a sandbox starts: forked by the launch server, and
    sandbox.py started on its own (where the server cannot run)."""
    if request.param == "started directly":
        monkeypatch.setattr(engine.LAUNCHER, "launch", lambda settings, fds: None)
    return request.param


def run(code: str, timeout: float = 10.0) -> engine.Run:
    return engine._run_script(code, PYTHON, timeout)


def test_a_launch_server_that_died_is_started_again(launch: str) -> None:
    if launch != "launch server":
        pytest.skip("about the launch server")
    assert run("print('first')").output == "first\n"
    server = engine.LAUNCHER._process
    assert server is not None and server.poll() is None, "the sandbox was not forked by the launch server"
    server.kill()
    server.wait()
    assert run("print('again')").output == "again\n"
    assert engine.LAUNCHER._process is not None and engine.LAUNCHER._process.pid != server.pid


def test_the_environment_is_an_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = uuid.uuid4().hex
    monkeypatch.setenv("GITHUB_TOKEN", secret)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    done = run("import os\nprint(sorted(os.environ))\nprint(os.environ['HOME'], os.getcwd())")
    assert secret not in done.output
    names = eval(done.output.splitlines()[0])
    assert set(names) <= {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "PAGER", "TERM", "COLUMNS", "PYTHONPATH"}
    assert done.output.splitlines()[1] == "/tmp/example-home /tmp/example", "the folders' stand-in names"


def test_the_build_and_its_environment_are_out_of_sight(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = uuid.uuid4().hex
    monkeypatch.setenv("CLOUD_KEY", secret)
    code = ("import os\nfor pid in os.listdir('/proc'):\n    if pid.isdigit():\n"
            "        try:\n            print(open(f'/proc/{pid}/environ').read())\n"
            "        except OSError:\n            pass\nprint(os.getppid(), len([p for p in os.listdir('/proc') if p.isdigit()]))")
    done = run(code)
    assert done.succeeded, done.output
    assert secret not in done.output
    assert done.output.split()[-2:] == ["1", "2"], "only the example and PID 1 are visible"


def test_the_checkout_is_read_only() -> None:
    target = ROOT / f"written-{uuid.uuid4().hex[:8]}"
    done = run(f"open({str(target)!r}, 'w').write('x')")
    assert done.returncode == 1 and "Read-only file system" in done.output, done.output
    assert not target.exists()


def test_an_example_writes_its_own_folder() -> None:
    done = run("from pathlib import Path\nPath('made.txt').write_text('yes')\nprint(Path('made.txt').read_text())")
    assert done.output == "yes\n"


def test_output_is_cut_at_the_limit_and_the_example_ended() -> None:
    started = time.monotonic()
    done = run("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", timeout=30)
    assert done.flooded and not done.succeeded and time.monotonic() - started < 10
    assert len(done.output) < engine.LIMITS.output + 200
    assert done.output.endswith(f"[output cut: the example wrote more than {engine.LIMITS.output // 1024} KB]\n")


def test_memory_is_limited() -> None:
    done = run("x = bytearray(3 << 30)")
    assert done.returncode == 1 and "MemoryError" in done.output


def test_a_timeout_ends_the_example_and_every_wait_is_bounded() -> None:
    started = time.monotonic()
    done = run("import time\ntime.sleep(60)", timeout=1)
    assert done.timed_out and time.monotonic() - started < 8


BURN = "import time\nend = time.process_time() + {0}\nwhile time.process_time() < end: pass\n"


def test_the_launch_server_measures_the_cpu_time_of_an_example_and_what_it_started(launch: str) -> None:
    busy = run(BURN.format(0.2) + f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {BURN.format(0.3)!r}])"
               + f"  # {launch}")  # not the other way's result from the tests' result cache
    idle = run(f"import time\ntime.sleep(0.5)  # {launch}")
    assert busy.succeeded and idle.succeeded, busy.output + idle.output
    if launch != "launch server":  # the fallback sandbox has no channel to say it
        assert busy.cpu is idle.cpu is None
        return
    assert busy.cpu is not None and 0.5 <= busy.cpu < 1.5, busy.cpu
    assert idle.cpu is not None and idle.cpu < 0.2, idle.cpu


def test_time_spent_waiting_for_a_core_does_not_count_towards_the_timeout(launch: str) -> None:
    """On a machine kept busy at normal priority (two programs per core, each leading a
    session of its own), an example that needs 0.6 s of CPU takes longer than its 1 s
    timeout and still finishes; a busy loop is still ended, by 4 times its timeout."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(2 * len(os.sched_getaffinity(0)))]
    try:
        done = run(BURN.format(0.6) + f"print('ran')  # {launch}", timeout=1)
        started = time.monotonic()
        hung = run("while True: pass", timeout=1)
        hung_for = time.monotonic() - started
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert (done.output, done.timed_out) == ("ran\n", False)
    assert done.seconds > 1.2, f"the machine was not busy enough to test this ({done.seconds:.2f} s)"
    assert hung.timed_out and hung_for < engine.STARVED_AT_MOST + 3


def test_descendants_end_with_the_example() -> None:
    mark = f"orphan-{uuid.uuid4().hex[:8]}"
    code = ("import subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{mark}'], start_new_session=True)\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{mark}'],\n"
            "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)\n"
            "print('started')")
    started = time.monotonic()
    done = run(code)
    assert done.output == "started\n" and time.monotonic() - started < 5, "the build waited for a grandchild"
    left = subprocess.run(["pgrep", "-f", mark], capture_output=True, text=True).stdout.strip()
    assert not left, f"still running: {left}"


def test_control_characters_become_visible() -> None:
    done = run(r"print('\x1b[31mred\x1b[0m', '\u202eevil', '\x00')")
    assert "\x1b" not in done.output and "\u202e" not in done.output and "\x00" not in done.output
    assert done.output == "\u241b[31mred\u241b[0m <U+202E>evil \u2400\n"


def test_transcript_results_survive_an_emptied_folder() -> None:
    statements = engine.parse_transcript(
        ">>> import os\n>>> for name in os.listdir('.'): os.remove(name)\n...\n>>> 6 * 7\n42\n")
    done = engine._run_transcript(statements, PYTHON, 10)
    assert done.outputs[-1] == "42\n" and not done.error


def test_a_cut_cache_entry_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYLIVE_CACHE", str(tmp_path))
    code = f"print('{uuid.uuid4().hex}')"
    first = run(code)
    [entry] = list(tmp_path.rglob("*.json"))
    entry.write_text(entry.read_text()[:12])
    again = run(code)
    assert again.output == first.output and again.succeeded
    assert entry.read_text().endswith("}"), "the entry was not written anew"
    assert not list(tmp_path.rglob("*.tmp")), "a temporary file was left behind"


def test_an_ellipsis_may_stand_only_for_what_varies() -> None:
    statements = engine.parse_transcript(
        ">>> object()\n<object object at 0x...>\n>>> 'hello world'\n'hello ...'\n"
        ">>> 1 / 0\nTraceback (most recent call last):\n  ...\nZeroDivisionError: division by zero\n")
    done = engine._run_transcript(statements, PYTHON, 10)
    assert engine.mismatches(statements, done) == []
    [(statement, problem)] = engine.ellipsis_problems(statements, [done])
    assert statement.line == 3 and "'world'" in problem


def test_the_sandbox_itself_is_not_writable_from_an_example() -> None:
    done = run(f"open({str(engine.SANDBOX)!r}, 'a').write('# changed')")
    assert "Read-only file system" in done.output
    assert "# changed" not in engine.SANDBOX.read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="the pids cgroup is writable as root (as in CI)")
def test_process_count_is_limited() -> None:
    code = ("import subprocess, sys\nprocs = []\ntry:\n    for _ in range(400):\n"
            "        procs.append(subprocess.Popen(['sleep', '5']))\n"  # cheap processes: only their number counts
            "except OSError as error:\n    print('stopped at', len(procs), type(error).__name__)\n")
    done = run(code, timeout=30)
    assert "stopped at" in done.output, done.output
    assert int(done.output.split()[2]) < engine.LIMITS.processes


def test_a_drivers_results_hold_only_what_it_wrote_whatever_their_descriptor() -> None:
    """The results pipe keeps the build's number for it in the example; with a busy build
    that number can be one the launcher moves its own descriptors to (64 and up)."""
    engine.run_child([*PYTHON.argv, "-c", "pass"], "", 10)  # the launch server is running
    filler = []
    while (fd := os.open(os.devnull, os.O_RDONLY)) < 63:  # the results pipe's write end will be 64
        filler.append(fd)
    os.close(fd)
    try:
        driver = "import os, sys; os.write(int(sys.argv[1]), b'only this\\n')"
        done = engine.run_child([*PYTHON.argv, "-c", driver, "{results}"], "", 10, results=True)
    finally:
        for fd in filler:
            os.close(fd)
    assert done.succeeded, done.output
    assert done.results == "only this\n"
