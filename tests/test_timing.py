"""The timing fence: parsing, measuring within a budget, figures, chart, stamp, and a site built with it."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from pylive import engine, timing

PYTHON = engine.build_interpreter()


@pytest.fixture(autouse=True)
def _full_measurements(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests decide quick mode and caching themselves, whatever the shell says."""
    monkeypatch.delenv("PYLIVE_QUICK", raising=False)
    monkeypatch.delenv("PYLIVE_CACHE", raising=False)


def _fake(label: str, best: float, version: str = "3.12.1", spread: float = 0.0) -> timing.Measurement:
    interpreter = engine.Interpreter(path="/x", version=version, implementation="CPython",
                                     cache_tag="cpython-" + version.replace(".", "")[:3])
    return timing.Measurement(label, interpreter, 1000, (best, best * (1 + spread), best * 1.01))


# -- units ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds,shown",
    [
        (4.52e-7, "452 ns"),
        (2.134e-5, "21.3 µs"),
        (9.9996e-4, "1.00 ms"),  # rounds up into the next unit, not "1000 µs"
        (1e-3, "1.00 ms"),
        (0.25, "250 ms"),
        (2.5, "2.50 s"),
        (1.2e-9, "1.20 ns"),
        (3e-11, "0.0300 ns"),  # below a nanosecond stays in ns
    ],
)
def test_times_are_shown_with_three_figures_in_the_unit_that_fits(seconds: float, shown: str) -> None:
    assert timing.format_time(seconds) == shown


# -- the fence body ---------------------------------------------------------------------


def test_a_body_has_one_line_and_indented_statements_and_a_setup() -> None:
    plan = timing.parse(
        textwrap.dedent("""\
            setup:
                data = list(range(10))

                def f(x):
                    return x
            # a comment at the margin is skipped
            loop:
                out = []
                for x in data:
                    out.append(x)

            comprehension: [x for x in data]
            dict: {1: 2}[1]
        """),
        setup="import math",
    )
    assert plan.setup == "import math\ndata = list(range(10))\n\ndef f(x):\n    return x"
    assert plan.statements == [
        ("loop", "out = []\nfor x in data:\n    out.append(x)"),
        ("comprehension", "[x for x in data]"),
        ("dict", "{1: 2}[1]"),  # the label ends at the first colon
    ]


@pytest.mark.parametrize(
    "body,message",
    [
        ("", "at least one"),
        ("setup: x = 1\n", "at least one"),
        ("    x = 1\n", "body line 1: an indented line"),
        ("a: 1\nb: 2\na: 3\n", "body line 3: the label 'a' is used twice"),
        ("a: 1\nb: x = 1\n    y = 2\n", "body line 2: 'b' has code after its colon and indented below"),
        ("a: 1\njust code\n", "body line 2: expected 'label: statement'"),
        ("a:\n", "body line 1: 'a' has no statement"),
        ("a, b: 1\n", "body line 1: a label cannot contain"),
    ],
)
def test_a_wrong_body_is_refused_with_its_line(body: str, message: str) -> None:
    with pytest.raises(engine.EngineError, match=re.escape(message)):
        timing.parse(body)


# -- ranking, relative figures, sentences and expectations ------------------------------


def test_relative_figures_are_over_the_fastest() -> None:
    items = [_fake("loop", 30e-6), _fake("comprehension", 20e-6), _fake("map", 50e-6)]
    assert timing.relative(items) == pytest.approx([1.5, 1.0, 2.5])
    table = timing.table(items)
    assert "| comprehension | 20.0 µs | 1.00× |" in table
    assert "| map | 50.0 µs | 2.50× |" in table


def test_the_sentence_reads_the_ranking() -> None:
    items = [_fake("loop", 30e-6), _fake("comprehension", 20e-6), _fake("map", 20.5e-6)]
    assert timing.summary(items) == (
        "Fastest: **comprehension**, about as fast as **map** (1.02×) and 1.50× faster than **loop**."
    )
    # The order of the sentence follows the numbers, not the page.
    flipped = [_fake("loop", 10e-6), _fake("comprehension", 20e-6)]
    assert timing.summary(flipped) == "Fastest: **loop**, 2.00× faster than **comprehension**."


def test_across_versions_each_statement_is_compared_between_interpreters() -> None:
    items = [_fake("loop", 40e-6, "3.10.13"), _fake("loop", 20e-6, "3.12.1")]
    assert timing.summary(items) == "- **loop**: fastest under CPython 3.12.1 · native, 2.00× faster than under CPython 3.10.13 · native."
    items += [_fake("call", 60e-6, "3.10.13"), _fake("call", 10e-6, "3.12.1")]
    assert timing.summary(items) == "\n".join([
        "- Under CPython 3.10.13 · native: **loop** fastest, 1.50× faster than **call**.",
        "- Under CPython 3.12.1 · native: **call** fastest, 2.00× faster than **loop**.",
        "- **loop**: fastest under CPython 3.12.1 · native, 2.00× faster than under CPython 3.10.13 · native.",
        "- **call**: fastest under CPython 3.12.1 · native, 6.00× faster than under CPython 3.10.13 · native.",
    ])


def test_an_expectation_that_holds_passes_and_a_contradicted_one_is_reported() -> None:
    items = [_fake("join", 10e-6), _fake("`+=`", 30e-6), _fake("f-string", 20e-6)]
    assert timing.contradictions("join < f-string < +=", items) == []
    problems = timing.contradictions("+= < join", items)
    assert len(problems) == 1
    assert "expected += < join" in problems[0] and "30.0 µs" in problems[0] and "10.0 µs" in problems[0]
    assert "did not measure" in timing.contradictions("join < nothing", items)[0]
    assert "not of the form" in timing.contradictions("join", items)[0]


def test_an_expectation_needs_a_clear_difference_and_a_narrow_one_is_named() -> None:
    items = [_fake("a", 10e-6), _fake("b", 10.3e-6), _fake("c", 11e-6), _fake("d", 20e-6)]
    [problem] = timing.contradictions("a < b", items)  # 3 %: "about as fast" in the sentence
    assert "expected a < b (faster by 1.05× at least)" in problem
    assert timing.contradictions("a < c < d", items) == []
    assert timing.narrow("a < c < d", items) == ["a < c holds by 1.10× only (CPython 3.12.1 · native, "
                                                  "CPython 3.12.1 · native)"]


def test_expectations_can_name_versions() -> None:
    items = [_fake("loop", 40e-6, "3.10.13"), _fake("loop", 20e-6, "3.12.1"), _fake("call", 50e-6, "3.12.1")]
    assert timing.contradictions("loop@3.12 < loop@3.10", items) == []
    assert len(timing.contradictions("loop@3.10 < loop@3.12", items)) == 1
    # A bare label is checked under each interpreter that measured both sides.
    assert timing.contradictions("loop < call", items) == []
    assert "did not measure" in timing.contradictions("loop@3.9 < loop", items)[0]


# -- measuring in a child -----------------------------------------------------------------


def test_a_measurement_keeps_to_its_budget() -> None:
    plan = timing.parse("small: sum(range(10))\nlarge: sum(range(1000))\n")
    python = engine.build_interpreter()
    budget = 0.1
    # The child's own start-up (imports, the stamp) is not part of the budget: measure it.
    overhead = min(timing.measure(plan, python, 1e-4).seconds for _ in range(2))
    started = time.perf_counter()
    run = timing.measure(plan, python, timing.share(budget, 1, len(plan.statements)))
    wall = time.perf_counter() - started
    assert run.succeeded, run.output
    # Timing stops when the budget is used (a repeat under way finishes, and on a busy
    # machine it may be paused for a while: hence the margins). Without the budget,
    # timeit's autorange would take about 0.2 s per repeat and per statement.
    assert budget * 0.5 < run.measuring < budget * 2 + 0.1, run.measuring
    assert wall < overhead * 3 + budget * 2 + 0.3, f"a {budget} s budget took {wall:.2f} s ({overhead:.2f} s start-up)"
    # The figures are real: more work takes longer, and every repeat is counted.
    small, large = timing.measurements([(python, run)])
    assert large.best > 5 * small.best
    # Repeats are short (a few ms), so there are many: the fastest likely ran undisturbed.
    assert all(m.number >= 1 and len(m.times) >= timing.DEFAULT_REPEAT for m in (small, large))
    # A larger budget is used: the budget is what bounds a run, not a fixed cost.
    bigger = timing.measure(plan, python, timing.share(0.3, 1, 2))
    assert 0.2 < bigger.measuring < 0.3 * 2 + 0.1


def test_a_slow_statement_gets_its_repeats_whatever_the_budget_and_stops_there() -> None:
    plan = timing.parse("sleep: time.sleep(0.02)\n", setup="import time")
    run = timing.measure(plan, engine.build_interpreter(), budget=0.01, repeat=4)
    assert run.succeeded, run.output
    (result,) = run.results
    assert result["number"] == 1 and len(result["times"]) == 4
    assert run.seconds < 0.02 * 6 * 3 + 0.5  # calibration (a trial, twice) and four repeats, no more


def test_a_pause_in_the_first_trial_does_not_set_the_loops() -> None:
    """A statement paused on its first run only (as another program's time slice may pause
    it) is still timed over many loops per repeat, not one."""
    setup = "import time\nruns = [0]\ndef paused_once():\n    runs[0] += 1\n    if runs[0] == 1:\n        time.sleep(0.005)\n"
    run = timing.measure(timing.parse("f: paused_once()\n", setup=setup), engine.build_interpreter(), budget=0.05)
    assert run.succeeded, run.output
    assert run.results[0]["number"] > 100, run.results[0]


def test_whole_programs_get_their_repeats_whatever_the_budget() -> None:
    plan = timing.parse("sleep: time.sleep(0.01)\n", setup="import time")
    run = timing.measure(plan, engine.build_interpreter(), budget=0.001, repeat=3, number=1)
    assert run.succeeded, run.output
    assert len(run.results[0]["times"]) == 3, "repeat= is honoured even when the budget is spent"


def test_a_block_whose_repeats_vary_is_measured_again_and_says_so() -> None:
    # Every other run of the statement is slow: the spread is far over the limit.
    setup = "import time\nruns = [0]\ndef uneven():\n    runs[0] += 1\n    time.sleep(0.01 if runs[0] % 2 else 0)\n"
    plan = timing.parse("uneven: uneven()\n", setup=setup)
    python = engine.build_interpreter()
    run, reused = timing.measure_settled(plan, python, budget=0.001, repeat=3, number=1)
    assert run.succeeded and not reused, run.output
    assert run.first_spread > timing.SPREAD_LIMIT
    assert len(run.results[0]["times"]) == 6, "both measurements' repeats are kept"
    [note] = [n for n in timing.notes([(python, run)]) if n.startswith("Measured twice")]
    assert f"under {python.implementation} {python.version}: the first time" in note and "still over 10.0 %" in note
    assert note in timing.render(plan, [(python, run)], number=1)[0].replace("\n    ", " ")


def test_a_steady_block_is_measured_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timing, "SPREAD_LIMIT", float("inf"))
    run, _ = timing.measure_settled(timing.parse("x: 1 + 1\n"), engine.build_interpreter(), budget=0.02)
    assert run.first_spread == 0 and not any(n.startswith("Measured twice") for n in timing.notes([(PYTHON, run)]))


def test_the_same_statements_measured_twice_in_a_build_are_one_measurement() -> None:
    plan = timing.parse("x: 2 + 2\ny: 2 * 2\n")
    first, reused_first = timing.measure_settled(plan, PYTHON, budget=0.02)
    second, reused_second = timing.measure_settled(plan, PYTHON, budget=0.02)
    assert not reused_first and reused_second and second is first
    other, reused_other = timing.measure_settled(plan, PYTHON, budget=0.03)
    assert not reused_other and other is not first


def test_interpreters_without_pgo_or_lto_are_named_under_the_figures() -> None:
    old, new = (replace(PYTHON, version=v) for v in ("3.10.13", "3.11.7"))
    def run(compiled: str) -> timing.TimingRun:
        return timing.TimingRun([{"label": "x", "number": 1, "times": [1e-6] * 3}], {"compiled": compiled}, "", 0,
                                False, 0.1, 3, False)
    [note] = timing.notes([(old, run("no PGO or LTO")), (new, run("PGO + LTO"))])
    assert note.startswith("CPython 3.10.13 was compiled without profile-guided and link-time optimization")
    assert "the ratios between versions here are those of this build's interpreters" in note
    assert timing.notes([(old, run("PGO + LTO")), (new, run("LTO"))]) == []
    assert timing.notes([(PYTHON, run("PGO"))]) == []


def test_quick_mode_measures_less_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    python = engine.build_interpreter()
    plan = timing.parse("x: 1 + 1\n")
    full = timing.measure(plan, python, budget=0.2)
    monkeypatch.setenv("PYLIVE_QUICK", "1")
    quick = timing.measure(plan, python, budget=0.2)
    assert quick.quick and not full.quick and quick.repeat == timing.QUICK_REPEAT
    assert quick.measuring < full.measuring and full.measuring > 0.15
    assert len(quick.results[0]["times"]) < len(full.results[0]["times"])
    assert "quick mode (PYLIVE_QUICK=1)" in timing.stamp([(python, quick)])
    assert "quick mode" not in timing.stamp([(python, full)])
    # The page says so where the reader looks: in the box with the result.
    assert '!!! warning "Quick measurement' in timing.render(plan, [(python, quick)])[0]
    assert '!!! info "Measured when this page was built"' in timing.render(plan, [(python, full)])[0]


def test_whole_programs_run_a_fixed_number_of_times_and_setup_is_a_real_module() -> None:
    # Functions defined in the setup can go to a process pool: they pickle by name.
    setup = textwrap.dedent("""\
        from concurrent.futures import ProcessPoolExecutor

        def square(x):
            return x * x

        def in_processes():
            with ProcessPoolExecutor(max_workers=2) as pool:
                assert list(pool.map(square, range(4))) == [0, 1, 4, 9]
    """)
    plan = timing.parse("processes: in_processes()\n", setup=setup)
    run = timing.measure(plan, engine.build_interpreter(), budget=5, repeat=2, number=1, timeout=30)
    assert run.succeeded, run.output
    assert run.results[0]["number"] == 1 and len(run.results[0]["times"]) == 2


def test_a_failing_statement_is_a_failed_run_with_its_traceback() -> None:
    run = timing.measure(timing.parse("bad: 1 / 0\n"), engine.build_interpreter(), budget=0.05)
    assert not run.succeeded
    assert "ZeroDivisionError" in run.output


def test_results_are_cached_only_when_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    plan = timing.parse("x: 1 + 1\n")
    python = engine.build_interpreter()
    assert timing.measure(plan, python, 0.02) != timing.measure(plan, python, 0.02)  # measured twice
    monkeypatch.setenv("PYLIVE_CACHE", str(tmp_path / "cache"))
    assert timing.measure(plan, python, 0.02) == timing.measure(plan, python, 0.02)


# -- stamp and chart ----------------------------------------------------------------------


def test_the_stamp_says_where_when_and_how() -> None:
    python = engine.build_interpreter()
    run = timing.measure(timing.parse("x: 1 + 1\n"), python, budget=0.05)
    text = timing.stamp([(python, run)])
    assert f"CPython {python.version}" in text
    assert "with the GIL" in text or "free-threaded" in text
    assert "release build" in text or "debug build" in text
    assert run.stamp["platform"] in text
    assert f"{os.cpu_count()} cores" in text
    assert re.search(r"Measured \d{4}-\d\d-\d\d \d\d:\d\d UTC", text)
    assert "fastest of its repeats" in text and "autorange" in text
    assert re.search(r"load average \d+\.\d\d", text) if hasattr(os, "getloadavg") else True
    assert "PGO" in text or "LTO" in text  # how the interpreter was compiled
    if Path("/proc/cpuinfo").exists():
        models = re.findall(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        if models:
            assert models[0].strip() in text
    special = replace(python, free_threaded=True, gil_enabled=False, debug=True)
    assert timing.build_options(special) == "free-threaded (GIL disabled), debug build"


def test_the_chart_is_an_image_of_svg_that_needs_nothing_from_elsewhere() -> None:
    items = [_fake("loop", 30e-6, spread=0.1), _fake("comprehension", 20e-6), _fake("loop", 25e-6, "3.13.0")]
    image = timing.chart(items, 'Doubling "numbers" & <more>')
    # one element of the page (not a thousand), sized before it loads
    found = re.fullmatch(r'<img class="pylive-chart" src="data:image/svg\+xml,([^" ]*)" alt="([^"]*)" '
                         r'width="(\d+)" height="(\d+)">', image)
    assert found, image[:300]
    assert html.unescape(found[2]) == 'Doubling "numbers" & <more>'
    svg = urllib.parse.unquote(found[1])
    root = ET.fromstring(svg)  # well-formed XML, with nothing before the element
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and "viewBox" in root.attrib
    lowered = svg.lower()
    for forbidden in ("<image", "<script", "@import", "@font-face", "url(http", "href=\"http", "<!doctype", "<?xml"):
        assert forbidden not in lowered, forbidden
    # The only addresses left are XML namespace names, which nothing fetches.
    assert set(re.findall(r'(\w[\w:]*)="https?://', svg)) <= {"xmlns", "xmlns:xlink"}
    assert timing.INK in svg and timing.FONT_FAMILY in svg and "DejaVu" not in svg
    texts = "".join(root.itertext())
    assert "loop" in texts and "comprehension" in texts and "1.50×" in texts and "CPython 3.13.0" in texts
    # every text at the chart's font size, so at least 11 px where the chart is 360 px wide
    sizes = {float(size) for size in re.findall(r"font-size: ([\d.]+)px", svg)}
    assert sizes == {timing.FONT}, sizes
    assert abs(float(root.get("viewBox").split()[2]) - timing.WIDTH * 72) < 0.01


# -- a site built with the fence ------------------------------------------------------------


def _build(tmp_path: Path, page: str, **settings: str) -> subprocess.CompletedProcess:
    (tmp_path / "docs").mkdir(parents=True)
    (tmp_path / "docs" / "index.md").write_text(page, encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(
        textwrap.dedent("""\
            site_name: timing test
            plugins:
              - pylive
            markdown_extensions:
              - admonition
              - tables
              - pymdownx.superfences
              - pymdownx.tabbed:
                  alternate_style: true
        """),
        encoding="utf-8",
    )
    inherited = {k: v for k, v in os.environ.items() if k != "PYLIVE_REQUIRE_VERSIONS"}
    env = {**inherited, "PYLIVE_INTERPRETERS": sys.executable, "NO_MKDOCS_2_WARNING": "1", **settings}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


PAGE = '''# Timed

Some prose.

```timeit title="Summing" setup="data = list(range(2000))" expect="{expect}" budget="0.2"
sum: sum(data)
loop:
    total = 0
    for x in data:
        total += x
```
'''


@pytest.mark.slow
def test_a_page_with_a_timing_fence_builds_with_chart_table_sentence_and_stamp(tmp_path: Path) -> None:
    done = _build(tmp_path, PAGE.format(expect="sum < loop"))
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert '<div class="pylive-chart"><img class="pylive-chart" src="data:image/svg+xml,' in html
    assert re.search(r"<td>sum</td>\s*<td[^>]*>[\d.]+ [nµm]?s</td>\s*<td[^>]*>1\.00×</td>", html)
    assert re.search(r"Fastest: <strong>sum</strong>, [\d.]+× faster than <strong>loop</strong>", html)
    assert "pylive-stamp" in html and "Measured " in html and "cores" in html
    assert "# setup (run before timing, not timed)" in html


@pytest.mark.slow
def test_a_contradicted_expectation_fails_the_strict_build_naming_page_and_line(tmp_path: Path) -> None:
    done = _build(tmp_path, PAGE.format(expect="loop < sum"))
    assert done.returncode != 0
    assert re.search(r"WARNING -  docs/index\.md:5: expected loop < sum \(faster by 1\.05× at least\), but the build measured loop at", done.stderr), done.stderr


@pytest.mark.slow
def test_a_quick_measurement_that_contradicts_the_page_is_measured_again_in_full(tmp_path: Path) -> None:
    # make serve measures roughly (PYLIVE_QUICK=1) and keeps what it measured (PYLIVE_CACHE).
    settings = {"PYLIVE_QUICK": "1", "PYLIVE_CACHE": str(tmp_path / "cache")}
    page = PAGE.format(expect="sum < loop")
    done = _build(tmp_path / "first", page, **settings)
    assert done.returncode == 0, done.stderr
    # The rough figures it kept now say the opposite: as a busy machine can make them say.
    [kept] = [f for f in (tmp_path / "cache").rglob("*.json") if '"quick": true' in f.read_text()]
    run = json.loads(kept.read_text())
    by_name = {result["label"]: result for result in run["results"]}
    by_name["sum"]["times"], by_name["loop"]["times"] = by_name["loop"]["times"], by_name["sum"]["times"]
    by_name["sum"]["number"], by_name["loop"]["number"] = by_name["loop"]["number"], by_name["sum"]["number"]
    kept.write_text(json.dumps(run))
    done = _build(tmp_path / "again", page, **settings)
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "again" / "site" / "index.html").read_text(encoding="utf-8")
    assert "Quick measurement" not in html, "the page shows the rough figures, not the full measurement"
    assert re.search(r"Fastest: <strong>sum</strong>", html)


@pytest.mark.slow
def test_fewer_than_the_minimum_repeats_fails_the_strict_build_naming_page_and_line(tmp_path: Path) -> None:
    done = _build(tmp_path, PAGE.replace('budget="0.2"', 'budget="0.2" repeat="2"').format(expect="sum < loop"))
    assert done.returncode != 0
    assert "docs/index.md:5: repeat= must be at least 3, not '2'" in done.stderr, done.stderr
