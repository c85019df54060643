"""Where examples run (engine._QuietCore): runs that measure time get a core of their own,
or the whole machine; every other example runs at the lowest priority on every core, and
does not slow them down; WebAssembly hosts and lab kernels, which Linux schedules apart (each
leads a session of its own), stay off that core or wait for it; the build starts every
example early, included snippets and timeit blocks too."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import nbformat
import pytest

from pylive import engine, labs
from test_engine import SITE_CONFIG, build

PYTHON = engine.build_interpreter()
QUIET = engine.early.quiet
T = TypeVar("T")

# What a run says about where it runs, and when it started and ended (a run of its own:
# the tests' result cache keys on the code).
WHERE = textwrap.dedent("""\
    import json, os, sys, time
    started = time.time()
    time.sleep({pause})  # {nonce}
    print(json.dumps({{"cpus": sorted(os.sched_getaffinity(0)), "nice": os.getpriority(os.PRIO_PROCESS, 0),
                      "started": started, "ended": time.time()}}))
    """)

needs_two_cores = pytest.mark.skipif(QUIET.core is None, reason="a quiet core needs two cores or more")


def code(pause: float) -> str:
    return WHERE.format(pause=pause, nonce=uuid.uuid4().hex)


def where(pause: float = 0.0, place: str = "") -> dict:
    run = engine.run_script(code(pause), PYTHON, timeout=30, place=place)
    assert run.succeeded, run.output
    return json.loads(run.output)


def test_an_example_may_use_every_core_at_the_lowest_priority() -> None:
    seen = where()
    assert seen["cpus"] == sorted(QUIET.cores)
    assert seen["nice"] == QUIET.NICE


# A busy loop, and a quiet run's share of its core: CPU time over wall time while it loops.
SPIN = "import time  # {nonce}\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"
SHARE = textwrap.dedent("""\
    import time  # {nonce}
    wall, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall < 1.0:
        pass
    print(round((time.process_time() - cpu) / (time.perf_counter() - wall), 2))
    """)


def share_of_the_quiet_core() -> float:
    run = engine.run_script(SHARE.format(nonce=uuid.uuid4().hex), PYTHON, timeout=30, place="quiet")
    assert run.succeeded, run.output
    return float(run.output)


@needs_two_cores
def test_busy_examples_do_not_slow_a_run_that_measures_time() -> None:
    # More busy examples than cores: one at least shares the quiet core with the timing run.
    # Each started its own session before, so Linux scheduled it as a group of its own, where
    # nice 19 counted for nothing: the timing run had half its core.
    spinners = [SPIN.format(nonce=uuid.uuid4().hex, seconds=3) for _ in range(len(QUIET.cores) + 1)]
    for spinner in spinners:
        engine.start_script(spinner, PYTHON, 30)
    time.sleep(0.5)
    assert share_of_the_quiet_core() > 0.9
    for spinner in spinners:  # taken: nothing is left started
        assert engine.run_script(spinner, PYTHON, 30).succeeded


def during_a_quiet_run(action: Callable[[], T]) -> tuple[T, dict]:
    """What `action` returns when called while a quiet run sleeps, and what that run said."""
    quiet: dict = {}
    runner = threading.Thread(target=lambda: quiet.update(where(1.5, place="quiet")))
    runner.start()
    time.sleep(0.5)  # the quiet run is sleeping in its sandbox now
    try:
        return action(), quiet
    finally:
        runner.join()


@needs_two_cores
def test_a_run_that_measures_time_has_a_core_of_its_own_that_the_build_keeps_off() -> None:
    build_cores, quiet = during_a_quiet_run(lambda: os.sched_getaffinity(0))
    assert quiet["cpus"] == [QUIET.core] and quiet["nice"] == 0
    # While it ran, this process (the build) was kept off its core; afterwards, every core is back.
    assert build_cores == QUIET.cores - {QUIET.core}
    assert os.sched_getaffinity(0) == QUIET.cores
    # An example started meanwhile still sees (and may use) every core.
    assert where()["cpus"] == sorted(QUIET.cores)


@needs_two_cores
def test_a_host_starts_off_the_quiet_core_at_normal_priority(tmp_path: Path) -> None:
    # A WebAssembly host leads a session of its own, a scheduling group whose nice would not
    # rank it below the timing runs: it is kept off their core instead, and not starved.
    command = engine.sandbox_command([PYTHON.path, "-c", code(0)], tmp_path, host=True)
    done, _ = during_a_quiet_run(lambda: subprocess.run(
        command, cwd=tmp_path, start_new_session=True, capture_output=True, text=True, timeout=30))
    seen = json.loads(done.stdout)
    assert seen["cpus"] == sorted(QUIET.cores - {QUIET.core}) and seen["nice"] == 0


@needs_two_cores
def test_a_lab_kernel_starts_once_no_timing_run_is_pending(caplog: pytest.LogCaptureFixture) -> None:
    # A Jupyter kernel also leads a session of its own, but may not be kept off a core: a lab
    # prints the cores it may use.
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\nprint(time.time())")])
    with caplog.at_level(logging.INFO, logger=labs.log.name):
        ran, quiet = during_a_quiet_run(lambda: labs.run_notebook(notebook, "when.ipynb"))
    assert float(ran.cells[0].outputs[0]["text"]) >= quiet["ended"]
    # The log tells the wait apart from the run (the benchmark reads the run's seconds).
    [said] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("labs: ran when.ipynb")]
    waited = float(re.search(r"after ([\d.]+) s waiting for the timing runs to end", said).group(1))
    assert 0.5 < waited < 3, said  # the quiet run had about 1 s left


def test_a_run_on_several_cores_waits_for_the_early_runs_and_has_every_core() -> None:
    started_early = code(1.0)
    early = engine.start_script(started_early, PYTHON, 30)
    alone = where(place="alone")
    assert early is not None and early.done()
    before = json.loads(early.result().output)
    assert alone["started"] >= before["ended"], "the run on every core started while an early run was running"
    assert alone["cpus"] == sorted(QUIET.cores) and alone["nice"] == 0
    engine.run_script(started_early, PYTHON, 30)  # taken: nothing is left started


def test_the_build_starts_included_examples_and_timings_early(tmp_path: Path) -> None:
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "work.py").write_text(textwrap.dedent("""\
        # --8<-- [start:work]
        def work():
            return sum(range(100))
        # --8<-- [end:work]
        """))
    page = textwrap.dedent('''\
        # Page

        ```python
        --8<-- "snippets/work.py:work"
        print(work())
        ```

        ```timeit budget="0.2"
        setup:
            --8<-- "snippets/work.py:work"
        work: work()
        ```
        ''')
    done, html = build(tmp_path, page, SITE_CONFIG.replace("{check_paths: true}", '{check_paths: true, base_path: ["."]}'))
    assert done.returncode == 0, done.stderr
    ran = re.search(r"pylive: ran (\d+) examples \((\d+) started early[;)]", done.stderr)
    assert ran and int(ran[1]) >= 2 and ran[1] == ran[2], ran and ran[0]
    assert "4950" in html
