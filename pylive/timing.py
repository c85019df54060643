"""Timings measured when the site is built: parse a ```` ```timeit ```` fence, measure, render.

A timing fence names statements to compare, one per `label: statement` line (a longer
statement goes indented below its label, and `setup:` is the code run before timing):

    setup:
        data = list(range(1000))
    loop:
        out = []
        for x in data:
            out.append(x * 2)
    comprehension: [x * 2 for x in data]

Each interpreter measures them in a child process (`timing_driver.py`, the standard
`timeit` module), within a time budget shared by the block's interpreters, statements and
repeats. The page gets the code, a chart (static SVG drawn here with matplotlib), a table,
a sentence written from the ranking, and a stamp saying where and when it was measured.
`expect="a < b"` states the ranking the page's prose relies on; a measurement that
contradicts it is reported (and fails the strict build).

Nothing here knows about MkDocs: `plugin.py` registers the fence and logs the problems.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import re
import statistics
import textwrap
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pylive import engine

DRIVER = Path(__file__).with_name("timing_driver.py")

DEFAULT_BUDGET = 0.5
"""Seconds of measuring per block, shared by its interpreters, statements and repeats."""
DEFAULT_REPEAT = 5
MIN_REPEAT = 3
"""The fewest repeats a block may ask for: one figure needs a minimum and a spread."""
SPREAD_LIMIT = 0.10
"""A statement whose median repeat is this much slower than its fastest was disturbed
while measured: the block is measured again under that interpreter, and the page says so."""
QUICK_SHARE = 0.2
"""In quick mode (`PYLIVE_QUICK=1`, as `make serve` sets) a block measures for a fifth of
its budget and asks for three repeats at least, not five: rougher figures, sooner."""
QUICK_REPEAT = 3
SAME = 1.05
"""Ratios under this are reported as "about as fast": closer than timing noise. An
expectation "a < b" needs a at least this much faster, or the sentence would contradict it."""
SAFE = 1.25
"""An expectation that holds by less than this may fail on a busy machine: the log says so."""

_LABEL_LINE = re.compile(r"^(?P<label>[^\s:#][^:]*?)\s*:(?:\s+(?P<code>.*?))?\s*$")


def quick_mode() -> bool:
    return os.environ.get("PYLIVE_QUICK", "") not in ("", "0")


@dataclass(frozen=True)
class Plan:
    """What a fence asks to time: setup code, then (label, statement) pairs in page order."""

    setup: str
    statements: list[tuple[str, str]]


def parse(body: str, setup: str = "") -> Plan:
    """Read a fence's body. Each line at the left margin is `label: statement`, or `label:`
    with the statement indented below; `setup:` holds code run before timing (after the
    fence's one-line `setup="..."` option). Blank lines and `# comments` at the margin are
    skipped. Raises EngineError naming the body line (1-based) that is wrong."""
    entries: list[tuple[str, str, list[str], int]] = []
    for number, line in enumerate(body.split("\n"), start=1):
        if line[:1] in (" ", "\t"):
            if not entries:
                raise engine.EngineError(f"body line {number}: an indented line needs a 'label:' line above")
            entries[-1][2].append(line)
            continue
        if not line.strip() or line.startswith("#"):
            if entries:
                entries[-1][2].append("")  # a blank line inside an indented statement
            continue
        match = _LABEL_LINE.match(line)
        if not match:
            raise engine.EngineError(f"body line {number}: expected 'label: statement', got {line!r}")
        entries.append((match["label"], match["code"] or "", [], number))
    setup_parts = [setup] if setup.strip() else []
    statements: list[tuple[str, str]] = []
    for label, inline, block, number in entries:
        indented = textwrap.dedent("\n".join(block)).strip("\n")
        if inline and indented:
            raise engine.EngineError(
                f"body line {number}: {label!r} has code after its colon and indented below; use one"
            )
        code = inline or indented
        if any(mark in label for mark in ",<@"):
            raise engine.EngineError(
                f"body line {number}: a label cannot contain ',', '<' or '@' (expect= uses them)"
            )
        if label == "setup":
            setup_parts.append(code)
        elif not code:
            raise engine.EngineError(f"body line {number}: {label!r} has no statement")
        elif any(label == known for known, _ in statements):
            raise engine.EngineError(f"body line {number}: the label {label!r} is used twice")
        else:
            statements.append((label, code))
    if not statements:
        raise engine.EngineError("a timeit fence needs at least one 'label: statement' line")
    return Plan(setup="\n".join(setup_parts), statements=statements)


def share(budget: float, interpreters: int, statements: int) -> float:
    """Seconds each statement gets under each interpreter."""
    return budget / max(1, interpreters * statements)


@dataclass(frozen=True)
class TimingRun:
    """What one interpreter measured. `results` holds, per statement in page order,
    `{"label", "number" (loops per repeat), "times" (seconds per loop, one per repeat)}`;
    `stamp` the child's platform, CPU, core count and date. Plain JSON, so it can be cached."""

    results: list[dict]
    stamp: dict
    output: str
    returncode: int
    timed_out: bool
    seconds: float
    repeat: int
    quick: bool
    measuring: float = 0.0
    """Seconds spent timing, without the child's start-up: what the budget bounds."""
    finished: float = 0.0
    """When it ended, in seconds since the epoch (see engine.Run.finished)."""
    first_spread: float = 0.0
    """The largest spread of a first measurement that was taken again (0: measured once)."""
    cpu: float | None = None
    """See engine.Run.cpu."""

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0 and not self.timed_out and len(self.results) > 0

    @property
    def spread(self) -> float:
        """The largest spread of its statements (see Measurement.spread)."""
        return max((_spread(r["times"]) for r in self.results), default=0.0)


def _spread(times: list[float]) -> float:
    best = min(times)
    return statistics.median(times) / best - 1 if best > 0 else 0.0


def measure(
    plan: Plan,
    interpreter: engine.Interpreter,
    budget: float,
    repeat: int = DEFAULT_REPEAT,
    number: int | None = None,
    timeout: float = 10.0,
    quick: bool | None = None,
    numbers: list[int] | None = None,
) -> TimingRun:
    """Time the plan's statements in a child process of `interpreter`; `budget` is the
    seconds each statement may take (see `share`), `repeat` the repeats each gets at
    least. `number` fixes the loops per repeat (for whole programs, timed once each),
    `numbers` those of each statement; otherwise autorange picks them. Results are
    cached only when PYLIVE_CACHE names a folder, so the strict build always measures."""
    quick = quick_mode() if quick is None else quick
    if quick:
        budget, repeat = budget * QUICK_SHARE, min(repeat, QUICK_REPEAT)
    request = {
        "setup": plan.setup, "statements": plan.statements, "budget": budget, "repeat": repeat, "number": number,
        **({"numbers": numbers} if numbers else {}),
    }

    def run() -> TimingRun:
        argv = [*interpreter.argv, "-u", str(DRIVER), "{results}"]
        child = engine.run_child(argv, json.dumps(request), timeout, results=True)
        try:
            found = json.loads(child.results) if child.succeeded else {}
        except json.JSONDecodeError:
            found = {}
        return TimingRun(
            results=found.get("results", []),
            stamp=found.get("stamp", {}),
            output=child.output,
            returncode=child.returncode,
            timed_out=child.timed_out,
            seconds=child.seconds,
            repeat=repeat,
            quick=quick,
            measuring=found.get("elapsed", 0.0),
            cpu=child.cpu,
        )

    return engine.cached(run, TimingRun, "timeit", request, interpreter, timeout, quick)


_THIS_BUILD: dict[str, TimingRun] = {}


def measure_settled(
    plan: Plan,
    interpreter: engine.Interpreter,
    budget: float,
    repeat: int = DEFAULT_REPEAT,
    number: int | None = None,
    timeout: float = 10.0,
    quick: bool | None = None,
) -> tuple[TimingRun, bool]:
    """`measure`, taken again when a statement's spread is over SPREAD_LIMIT (outside
    quick mode): the second measurement uses the first's loops, and the figures are the
    fastest of both measurements' repeats. Also whether the run was measured earlier in
    this build: blocks (on two pages) that time the same statements under the same
    interpreter with the same budget show one measurement, so that they agree."""
    quick = quick_mode() if quick is None else quick
    key = json.dumps([plan.setup, plan.statements, budget, repeat, number, timeout, quick,
                      interpreter.path, interpreter.version])
    if key in _THIS_BUILD:
        return _THIS_BUILD[key], True
    first = measure(plan, interpreter, budget, repeat, number, timeout, quick)
    run = first
    if first.succeeded and not first.quick and first.spread > SPREAD_LIMIT:
        again = measure(plan, interpreter, budget, repeat, number, timeout, quick,
                        numbers=None if number else [r["number"] for r in first.results])
        if again.succeeded:
            run = _combined(first, again)
    if run.succeeded:
        _THIS_BUILD[key] = run
    return run, False


def _combined(first: TimingRun, again: TimingRun) -> TimingRun:
    """Two measurements of the same statements with the same loops, read as one."""
    results = [{**a, "times": a["times"] + b["times"]} for a, b in zip(first.results, again.results)]
    return TimingRun(results=results, stamp=again.stamp, output=first.output + again.output,
                     returncode=again.returncode, timed_out=again.timed_out, seconds=first.seconds + again.seconds,
                     repeat=first.repeat, quick=first.quick, measuring=first.measuring + again.measuring,
                     first_spread=first.spread,
                     cpu=None if first.cpu is None or again.cpu is None else first.cpu + again.cpu)


# -- figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    """One statement under one interpreter: the minimum is the figure, the rest the spread."""

    label: str
    interpreter: engine.Interpreter
    number: int
    times: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def spread(self) -> float:
        """How much slower the median repeat was than the fastest, as a fraction. Not the
        slowest: among many short repeats on a busy machine, the slowest is whichever
        was paused longest, and says nothing about the statement."""
        return _spread(list(self.times))


def measurements(runs: list[tuple[engine.Interpreter, TimingRun]]) -> list[Measurement]:
    """Every (statement, interpreter) figure, in page order then interpreter order."""
    found = [
        Measurement(r["label"], interpreter, r["number"], tuple(r["times"]))
        for interpreter, run in runs
        for r in run.results
    ]
    order = {label: i for i, label in enumerate(dict.fromkeys(m.label for m in found))}
    return sorted(found, key=lambda m: (order[m.label], m.interpreter.version_key))


_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))


def unit_for(seconds: float) -> tuple[float, str]:
    """The largest unit in which `seconds` (rounded to 3 figures) is at least 1."""
    for scale, unit in _UNITS:
        if float(f"{seconds / scale:.3g}") >= 1:
            return scale, unit
    return _UNITS[-1]


def format_time(seconds: float) -> str:
    """`21.3 µs`, `1.00 ms`, `452 ns`: three significant figures in the unit that fits."""
    scale, unit = unit_for(seconds)
    value = seconds / scale
    text = f"{value:.0f}" if value >= 1000 else f"{value:#.3g}".rstrip(".")
    return f"{text} {unit}"


def format_ratio(ratio: float) -> str:
    """`1.52×`, `20.5×`, `331×`: no more figures than the measurement supports."""
    if ratio < 10:
        return f"{ratio:.2f}×"
    return f"{ratio:.1f}×" if ratio < 100 else f"{ratio:,.0f}×"


def relative(items: list[Measurement]) -> list[float]:
    """Each figure over the fastest: the fastest is 1.0."""
    fastest = min(m.best for m in items)
    return [m.best / fastest for m in items]


def _name(label: str) -> str:
    """A label as prose and expectations refer to it: without Markdown backticks."""
    return label.replace("`", "").strip()


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _versus(ratio: float, other: str) -> str:
    if ratio < SAME:
        return f"about as fast as {other} ({format_ratio(ratio)})"
    return f"{format_ratio(ratio)} faster than {other}"


def _bold(m: Measurement) -> str:
    return f"**{m.label}**"


def _under(m: Measurement) -> str:
    return f"under {m.interpreter.label}"


def _ranking(items: list[Measurement], name: Callable[[Measurement], str]) -> tuple[Measurement, str]:
    """The fastest, and how the others compare with it ("1.50× faster than x and ...")."""
    ranked = sorted(items, key=lambda m: m.best)
    return ranked[0], _and([_versus(m.best / ranked[0].best, name(m)) for m in ranked[1:]])


def summary(items: list[Measurement]) -> str:
    """The ranking as sentences, so that the page's words come from this build's numbers:
    across statements for one interpreter; with several interpreters, across statements
    under each of them, then each statement across them."""
    interpreters = list(dict.fromkeys(m.interpreter for m in items))
    labels = list(dict.fromkeys(m.label for m in items))
    if len(interpreters) == 1:
        if len(items) == 1:
            return f"**{items[0].label}**: {format_time(items[0].best)} per loop."
        fastest, others = _ranking(items, _bold)
        return f"Fastest: **{fastest.label}**, {others}."
    lines = []
    if len(labels) > 1:
        for interpreter in interpreters:
            fastest, others = _ranking([m for m in items if m.interpreter == interpreter], _bold)
            lines.append(f"- Under {interpreter.label}: **{fastest.label}** fastest, {others}.")
    for label in labels:
        fastest, others = _ranking([m for m in items if m.label == label], _under)
        lines.append(f"- **{label}**: fastest under {fastest.interpreter.label}, {others}.")
    return "\n".join(lines)


def contradictions(expect: str, items: list[Measurement]) -> list[str]:
    """What the measurement contradicts in `expect="a < b < c, d < e"` ("a is faster than
    b", by SAME at least). `label@3.12` names one interpreter by minor (or exact) version;
    a bare label is checked under every interpreter measured. A label the block lacks is a
    problem too."""
    problems = []
    for left, right in _pairs(expect, problems):
        problems.extend(_contradicts(left, right, items))
    return problems


def narrow(expect: str, items: list[Measurement]) -> list[str]:
    """The expectations that hold, but by less than SAFE: on a busier machine they may not."""
    found = []
    for left, right in _pairs(expect, []):
        lefts, rights = _pick(left, items), _pick(right, items)
        if isinstance(lefts, str) or isinstance(rights, str):
            continue
        for a, b in _compared(left, right, lefts, rights):
            if SAME <= b.best / a.best < SAFE:
                found.append(f"{left} < {right} holds by {format_ratio(b.best / a.best)} only "
                             f"({a.interpreter.label}, {b.interpreter.label})")
    return found


def _pairs(expect: str, problems: list[str]) -> list[tuple[str, str]]:
    """`a < b < c, d < e` as (a, b), (b, c), (d, e); a chain that is not one goes to `problems`."""
    pairs = []
    for chain in filter(None, (part.strip() for part in expect.split(","))):
        names = [name.strip() for name in chain.split("<")]
        if len(names) < 2 or not all(names):
            problems.append(f'expect="{chain}" is not of the form "faster < slower"')
            continue
        pairs += list(zip(names, names[1:]))
    return pairs


def _compared(left: str, right: str, lefts: list[Measurement],
              rights: list[Measurement]) -> list[tuple[Measurement, Measurement]]:
    versioned = "@" in left or "@" in right  # else: the two sides under the same interpreter
    return [(a, b) for a in lefts for b in rights if versioned or a.interpreter == b.interpreter]


def _pick(name: str, items: list[Measurement]) -> list[Measurement] | str:
    label, _, version = name.partition("@")
    found = [m for m in items if _name(m.label) == label.strip()]
    if version:
        found = [m for m in found if version.strip() in (m.interpreter.minor, m.interpreter.version)]
    if not found:
        known = ", ".join(dict.fromkeys(f"{_name(m.label)}@{m.interpreter.minor}" for m in items))
        return f"expect names {name!r}, which this block did not measure (it has {known})"
    return found


def _contradicts(left: str, right: str, items: list[Measurement]) -> list[str]:
    lefts, rights = _pick(left, items), _pick(right, items)
    if isinstance(lefts, str) or isinstance(rights, str):
        return [p for p in (lefts, rights) if isinstance(p, str)]
    return [
        f"expected {left} < {right} (faster by {format_ratio(SAME)} at least), but the build measured "
        f"{_name(a.label)} at {format_time(a.best)} ({a.interpreter.label}) and {_name(b.label)} at "
        f"{format_time(b.best)} ({b.interpreter.label})"
        for a, b in _compared(left, right, lefts, rights)
        if not a.best * SAME <= b.best
    ]


# -- rendering -------------------------------------------------------------------------


def listing(plan: Plan) -> str:
    """The timed code as the reader sees it: valid Python, each statement under its label."""
    setup = plan.setup.strip()
    parts = [f"# setup (run before timing, not timed)\n{setup}"] if setup else []
    parts += [f"# {_name(label)}\n{code}" for label, code in plan.statements]
    return "\n\n".join(parts)


def table(items: list[Measurement], per: str = "loop") -> str:
    """A Markdown table: time per loop (the fastest repeat), relative to the fastest
    statement, the spread (the median repeat's excess over the fastest), and loops ×
    repeats. One row per statement, or per statement and interpreter."""
    several = len({m.interpreter for m in items}) > 1
    head = ["Statement"] + (["Python"] if several else []) + [f"Time per {per}", "Relative", "Spread"]
    rows = [
        "| " + " | ".join(head + ["Loops × repeats"]) + " |",
        "|---" + ("|---" if several else "") + "|--:|--:|--:|--:|",
    ]
    for m, ratio in zip(items, relative(items)):
        spread = f"+{m.spread * 100:.1f} %" if len(m.times) > 1 else "n/a"
        loops = f"{m.number:,}".replace(",", "\u202f") + f" × {len(m.times)}"  # narrow no-break space
        cells = [m.label.replace("|", "\\|")] + ([m.interpreter.label] if several else [])
        cells += [format_time(m.best), format_ratio(ratio), spread, loops]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def build_options(interpreter: engine.Interpreter) -> str:
    """`GIL, release build`, `free-threaded (GIL disabled), debug build`."""
    if interpreter.free_threaded:
        gil = f"free-threaded (GIL {'enabled' if interpreter.gil_enabled else 'disabled'})"
    else:
        gil = "with the GIL"
    return f"{gil}, {'debug' if interpreter.debug else 'release'} build"


def stamp(runs: list[tuple[engine.Interpreter, TimingRun]], number: int | None = None) -> str:
    """Where, when and how the figures were measured, as one line of Markdown."""
    first = runs[0][1]
    machine = first.stamp
    pythons = "; ".join(
        f"{i.implementation} {i.version} ({', '.join(filter(None, (build_options(i), run.stamp.get('compiled'))))})"
        for i, run in runs
    )
    if number:
        how = f"{number} loop{'s' if number != 1 else ''} per repeat"
    else:
        how = "timeit's autorange chose the loops"
    parts = [
        f"Measured {machine.get('date', '?')}",
        pythons,
        str(machine.get("platform", "?")),
        f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores"
        + (f", load average {machine['load']:.2f}" if machine.get("load") is not None else ""),
        f"each figure is the fastest of its repeats ({how}; repeats interleaved across statements; "
        "the spread is how much slower the median repeat was), garbage collector off while timing",
    ]
    if first.quick:
        parts.append("quick mode (PYLIVE_QUICK=1): fewer loops and repeats than the published build")
    return " · ".join(parts)


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.1f} %"


def _named(interpreter: engine.Interpreter) -> str:
    return f"{interpreter.implementation} {interpreter.version}"


def notes(runs: list[tuple[engine.Interpreter, TimingRun]]) -> list[str]:
    """What the reader must know to read the figures: interpreters under which the block
    was measured twice because its repeats varied, and interpreters compiled without the
    optimizations of official builds."""
    found = []
    twice = [(interpreter, run) for interpreter, run in runs if run.first_spread]
    if twice:
        text = (f"Measured twice under {_and([_named(i) for i, _ in twice])}: the first time, a statement's "
                f"median repeat was up to {_percent(max(run.first_spread for _, run in twice))} slower than its "
                f"fastest (more than {_percent(SPREAD_LIMIT)}: other programs were using the machine), so the "
                "figures there are the fastest repeats of both measurements.")
        still = [(i, run) for i, run in twice if run.spread > SPREAD_LIMIT]
        if still:
            load = still[0][1].stamp.get("load")
            text += (f" The spread is still over {_percent(SPREAD_LIMIT)} under "
                     + _and([f"{_named(i)} ({_percent(run.spread)})" for i, run in still])
                     + (f", with a load average of {load:.2f}" if load is not None else "")
                     + ": read those figures with care.")
        found.append(text)
    plain = [interpreter for interpreter, run in runs if run.stamp.get("compiled") == "no PGO or LTO"]
    if plain:
        names = _and([_named(i) for i in plain])
        across = len({i for i, _ in runs}) > 1
        found.append(
            f"{names} {'was' if len(plain) == 1 else 'were'} compiled without profile-guided and link-time "
            "optimization (PGO, LTO), as a plain `./configure` builds CPython. The builds of python.org and of "
            "most Linux distributions use both and run faster"
            + (", by an amount that differs between versions: the ratios between versions here are those of "
               "this build's interpreters, not of the official builds." if across else ".")
        )
    return found


# Matplotlib draws text and axes in _INK, which becomes INK, the text colour of Material's
# light palette; in the dark palette site.css inverts the chart's lightness.
_INK = "#010101"
INK = "#212121"
FONT_FAMILY = "-apple-system, BlinkMacSystemFont, Helvetica, Arial, sans-serif"  # Material's, without web fonts
# Mid-tone bar colours that read on white and on Material's dark slate alike.
PALETTE = ("#4c9be8", "#f0a030", "#3dbe8b", "#e8618c", "#a98be8", "#8a9bb0")


# The chart is drawn narrow, at the size it has on a phone (a column of about 360 CSS px),
# with every text at FONT points: one point of the drawing is then about one pixel there,
# so no text is under 11 px on a 390 px screen. Wider screens show it at most 25rem wide
# (docs/assets/site.css).
WIDTH = 4.8  # inches: 345.6 points
FONT = 11  # points, for every text of the chart
_CHAR = 0.58 * FONT  # the average width of a character, in points, to leave room for text
_ROW = 0.22  # inches per row: one bar, or the label of a group of bars
_GAP = 0.5  # rows between two groups of bars


def chart(items: list[Measurement], title: str = "", per: str = "loop") -> str:
    """A horizontal bar chart of time per loop (shorter is faster): per statement, its label
    on a row of its own, then one bar per interpreter with its time and ratio to the fastest;
    a whisker reaches the median repeat. Labels above the bars leave the whole width to the
    bars, which keeps the chart narrow enough to be read on a phone.
    An image of static SVG: no script, no font file, nothing from another host."""
    # Imported here: matplotlib takes a while to import and only timing blocks need it.
    from matplotlib.figure import Figure
    from matplotlib import rc_context
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import blended_transform_factory

    labels = list(dict.fromkeys(m.label for m in items))
    interpreters = sorted({m.interpreter for m in items}, key=lambda i: i.version_key)
    scale, unit = unit_for(max(m.best for m in items))
    fastest = min(m.best for m in items)
    notes = {m: f" {format_time(m.best)} · {format_ratio(m.best / fastest)}" for m in items}
    style = {
        "svg.fonttype": "none",  # text stays text, in the system's font (FONT_FAMILY)
        "svg.hashsalt": hashlib.sha256(repr(items).encode()).hexdigest()[:12],  # stable, distinct ids
        "font.size": FONT,
        **dict.fromkeys(("text.color", "axes.edgecolor", "axes.labelcolor", "xtick.color", "ytick.color"), _INK),
    }
    names = [f"{i.implementation} {i.version}" for i in interpreters]
    columns = max(1, min(len(names), int(WIDTH * 72 // (max(map(len, names)) * _CHAR + 2.2 * FONT))))
    legend_rows = -(-len(names) // columns) if len(names) > 1 else 0
    rows = len(labels) * (1 + len(interpreters)) + _GAP * (len(labels) - 1)  # a label row, then a bar each
    top, bottom = 0.08 + legend_rows * _ROW * 1.1, 0.62  # inches: the legend; the x axis and its label
    height = top + bottom + rows * _ROW
    with rc_context(style):
        figure = Figure(figsize=(WIDTH, height))
        figure.subplots_adjust(left=0.02, right=0.98, bottom=bottom / height, top=1 - top / height)
        axes = figure.subplots()
        at_left = blended_transform_factory(axes.transAxes, axes.transData)
        row, in_legend = 0.0, set()
        for label in labels:
            axes.text(0.01, row, _name(label), va="center", ha="left", fontweight="bold", transform=at_left)
            for column, interpreter in enumerate(interpreters):
                found = [m for m in items if m.label == label and m.interpreter == interpreter]
                row += 1
                if not found:
                    continue
                m = found[0]
                axes.barh(row, m.best / scale, height=0.8, color=PALETTE[column % len(PALETTE)],
                          xerr=[[0.0], [(m.median - m.best) / scale]],
                          error_kw={"ecolor": _INK, "capsize": 2, "elinewidth": 0.8},
                          label=None if interpreter in in_legend else names[column])
                in_legend.add(interpreter)
                axes.text(m.median / scale, row, notes[m], va="center", ha="left")
            row += 1 + _GAP
        # Room on the right for the longest note after the longest whisker.
        widest = max(m.median for m in items) / scale
        axes_points = WIDTH * 72 * 0.96
        room = (max(map(len, notes.values())) + 1) * _CHAR / axes_points
        axes.set_xlim(0, widest / max(0.3, 1 - room))
        axes.set_ylim(row - _GAP - 0.5, -0.7)  # the first statement on top
        axes.set_yticks([])
        axes.xaxis.set_major_locator(MaxNLocator(4))
        axes.set_xlabel(f"time per {per} ({unit}); shorter is faster")
        axes.spines[["top", "right"]].set_visible(False)
        axes.xaxis.grid(True, color=_INK, alpha=0.15)
        axes.set_axisbelow(True)
        if len(interpreters) > 1:
            figure.legend(*axes.get_legend_handles_labels(), frameon=False, loc="upper left",
                          bbox_to_anchor=(0.01, 1), ncol=columns, handlelength=1.2, columnspacing=1.0)
        out = io.StringIO()
        figure.savefig(out, format="svg", transparent=True, metadata={"Date": None, "Creator": None})
    return _as_image(out.getvalue(), title or "Timing chart")


# A <g> with no attribute around elements that hold no group themselves.
_BARE_GROUP = re.compile(r"<g>\s*((?:<(?!g\b)[^>]*/>\s*|<text[^>]*>[^<]*</text>\s*)*)</g>")


def _as_image(svg: str, title: str) -> str:
    """matplotlib's SVG file as an image of the page: an <img> whose source is the SVG
    itself (a data: URL), with no XML prologue, DOCTYPE or metadata (they name other hosts).
    An image rather than inline SVG: a page of charts would otherwise have a thousand more
    elements for the browser to style and lay out as the page loads (Lighthouse's total
    blocking time on performance/comparisons halved). The chart draws in the page's text
    colour of the light palette; site.css turns it for the dark one."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = svg.replace(_INK, INK)
    # Fewer bytes: the ids nothing refers to (matplotlib names every group) and the groups
    # left without an attribute, and the blanks between elements.
    referred = set(re.findall(r'#([^")\s]+)', svg))
    svg = re.sub(r' id="([^"]+)"', lambda m: m[0] if m[1] in referred else "", svg)
    unwrapped = -1
    while unwrapped:
        svg, unwrapped = _BARE_GROUP.subn(r"\1", svg)
    svg = re.sub(r"font-family:[^;\"]*;?", f"font-family: {FONT_FAMILY};", svg)
    svg = re.sub(r"\s*\n\s*", " ", re.sub(r">\s+<", "><", svg)).strip()
    size = re.search(r'<svg [^>]*?width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    width, height = (round(float(points) * 4 / 3) for points in size.groups())  # CSS px
    source = "data:image/svg+xml," + urllib.parse.quote(svg, safe=":;,=/.-'()!*~_")
    return (f'<img class="pylive-chart" src="{source}" alt="{html.escape(title, quote=True)}" '
            f'width="{width}" height="{height}">')


def render(plan: Plan, runs: list[tuple[engine.Interpreter, TimingRun]], title: str = "",
           number: int | None = None) -> tuple[str, dict[str, str]]:
    """The block as Markdown, and the HTML to put in place of its chart's placeholder:
    the code, then tabs "Chart" and "Table", the sentence, and the stamp, folded."""
    from markdown_exec import code_block, tabbed  # the same helpers as the other fences

    items = measurements(runs)
    token = "pylivechart" + hashlib.sha256(repr(items).encode()).hexdigest()[:16]
    per = "run" if number else "loop"  # a whole program runs once per repeat
    if any(run.quick for _, run in runs):
        box = '!!! warning "Quick measurement (PYLIVE_QUICK=1): fewer repeats, rougher figures"'
    elif len(runs) > 1:  # a sentence per interpreter and per statement: folded, the chart shows them
        box = '??? info "Measured when this page was built: the rankings in words"'
    else:
        box = '!!! info "Measured when this page was built"'
    svg = chart(items, title, per)
    parts = [
        code_block("python", listing(plan), title=title or "Timed statements"),
        tabbed(("Chart", token), ("Table", table(items, per))),
        f'{box}\n\n' + textwrap.indent("\n\n".join([summary(items), *notes(runs)]), "    "),
        # Folded: on a phone the stamp is a screenful of text under every chart.
        f'<details class="pylive-stamp"><summary>Where, when and how this was measured</summary>\n'
        f'<p>{html.escape(stamp(runs, number))}</p>\n</details>',
    ]
    return "\n\n".join(parts), {f"<p>{token}</p>": f'<div class="pylive-chart">{svg}</div>'}
