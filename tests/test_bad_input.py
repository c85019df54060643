"""Bad input and faults: each one fails the strict build, naming the page and the line.

Every case copies the tiny fixture site (tests/fixtures/site: the pylive plugin, the real
site's Markdown extensions, mkdocs-jupyter executing notebooks, a 2 s example timeout) to
a temporary folder, adds one bad page, and runs `mkdocs build --strict` in a subprocess.
The builds run once per session, two at a time; the tests then read their outputs.

The second half tests pylive/links.py, which finds the line of a broken link or anchor.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT, check_repository_unchanged, git_status
from pylive import links

FIXTURE = ROOT / "tests" / "fixtures" / "site"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MARKER = f"written-by-example-{uuid.uuid4().hex[:8]}.txt"
SECRET = f"secret-{uuid.uuid4().hex}"
RUNAWAY = f"runaway-{uuid.uuid4().hex[:8]}"


def _notebook(*cells: str) -> str:
    """A notebook whose code cells are `cells` (a first markdown cell gives it a title)."""
    code = [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source}
        for source in cells
    ]
    return json.dumps(
        {
            "cells": [{"cell_type": "markdown", "metadata": {}, "source": "# A lab"}, *code],
            "metadata": {
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        indent=1,
    )


@dataclass(frozen=True)
class Case:
    """One bad page: its path under docs/, its text, and the line the message must name."""

    page: str
    text: str
    line: int
    says: str  # a phrase the build's message must contain
    env: tuple[tuple[str, str], ...] = ()  # extra environment of the build


CASES = {
    "raising block": Case(
        "raising.md",
        '# A raising block\n\nIt fails.\n\n```python\nraise ValueError("boom")\n```\n',
        6,  # the line that raised
        "ValueError: boom",
    ),
    "hanging block": Case(
        "hanging.md",
        "# A hanging block\n\nThe fixture's timeout is 2 s.\n\n```python\nimport time\n\ntime.sleep(60)\n```\n",
        5,
        "did not finish within 2 s",
    ),
    "wrong transcript output": Case(
        "transcript.md",
        "# A wrong transcript\n\nAt the REPL each line is compiled alone.\n\n"
        "```pycon\n>>> a = 100_000\n>>> b = 100_000\n>>> a is b\nTrue\n```\n",
        8,  # the statement whose output is wrong
        "the written output is not what Python printed",
    ),
    "missing snippet file": Case(
        "missing-file.md",
        '# A missing snippet\n\n```python\nprint("before")\n--8<-- "snippets/no-such-file.py"\n```\n',
        5,
        "does not exist",
    ),
    "missing snippet section": Case(
        "missing-section.md",
        '# A missing section\n\n\n```python\n--8<-- "snippets/demo.py:no_such_section"\n```\n',
        5,
        "no section 'no_such_section'",
    ),
    "broken link": Case(
        "broken-link.md",
        "# A broken link\n\nSee [the other page](no-such-page.md) for more.\n",
        3,
        "no-such-page.md",
    ),
    "broken anchor": Case(
        "broken-anchor.md",
        "# A broken anchor\n\nFine: [a section](index.md#a-section).\n\n"
        "Broken: [no section](index.md#no-such-section).\n",
        5,
        "no-such-section",
    ),
    "failing notebook cell": Case(
        "labs/failing.ipynb",
        _notebook("x = 1\nprint(x)", "y = 2\n1 / 0"),
        2,  # the line inside the failing cell, as the traceback shows it
        "ZeroDivisionError",
    ),
    "block after front matter": Case(
        "front-matter.md",
        '---\ntitle: Front matter\n---\n\n# Front matter\n\n```python\nraise ValueError("boom")\n```\n',
        8,
        "ValueError: boom",
    ),
    "execution off": Case(
        "execution-off.md",
        "# Execution off\n\nA preview of the prose: sources shown, nothing run.\n\n"
        '```python versions="all" source="below"\nraise ValueError("never run")\n```\n\n'
        "```pycon\n>>> 1 + 1\n3\n```\n",
        0,
        "",
        (("PYLIVE_EXECUTE", "0"),),
    ),
    "example writing files": Case(
        "writes-files.md",
        "# An example that writes files\n\n"
        "```python\n"
        "from pathlib import Path\n\n"
        f'Path("{MARKER}").write_text("relative")\n'
        f'Path(__file__).with_name("{MARKER}").write_text("beside the script")\n'
        'print("cwd:", Path.cwd())\n'
        f'print("wrote:", Path("{MARKER}").resolve())\n'
        "```\n",
        0,
        "",
    ),
    "malformed option": Case(
        "malformed-option.md",
        '# A malformed option\n\n```python timeout="abc"\n--8<-- "snippets/demo.py"\n```\n',
        3,
        "timeout= takes a number, not 'abc'",
    ),
    "misspelled option": Case(
        "misspelled-option.md",
        '# A misspelled option\n\nText.\n\n```python versoins="all"\nprint(1)\n```\n',
        5,
        "unknown option(s) versoins",
    ),
    "unclosed fence": Case(
        "unclosed.md",
        "# An unclosed fence\n\n```python\nprint(1)\n\n## Later\n\n```pycon\n>>> 1 + 1\n3\n",
        3,
        "never closed",
    ),
    "missing include in prose": Case(
        "prose-include.md",
        '# An include in prose\n\nText.\n\n--8<-- "snippets/no-such-part.md"\n',
        5,
        "does not exist",
    ),
    "transcript emptying its folder": Case(
        "emptying.md",
        "# A transcript that empties its folder\n\n```pycon\n>>> import os, shutil\n"
        ">>> for name in os.listdir('.'): os.remove(name)\n...\n>>> 1 + 1\n3\n```\n",
        7,
        "the written output is not what Python printed",
    ),
    "ellipsis hiding a claim": Case(
        "ellipsis.md",
        "# An ellipsis that hides a claim\n\n```pycon\n>>> 0.1 + 0.2\n0.30000000000000004\n>>> 'hello ' + 'world'\n'hello ...'\n```\n",
        6,
        "the same on every runtime: write it out",
    ),
    "flooding block": Case(
        "flooding.md",
        '# A flooding block\n\n```python\nimport sys\nwhile True:\n    sys.stdout.write("x" * 65536)\n```\n',
        3,
        "wrote more than 1024 KB",
    ),
    "traceback line": Case(
        "traceback-line.md",
        "# The line of a traceback\n\nText.\n\n```python\nx = 1\ny = 0\nprint(x / y)\n```\n",
        8,
        "ZeroDivisionError: division by zero",
    ),
    "contradicted output expectation": Case(
        "expectation.md",
        '# An output the prose relies on\n\nSix times seven is 42.\n\n```python expect="42"\nprint(6 * 7 + 1)\n```\n',
        5,
        'expect="42" does not hold under',
    ),
    "malformed output expectation": Case(
        "bad-expectation.md",
        '# A malformed expectation\n\n```python expect="all: !"\nprint(1)\n```\n',
        3,
        "says nothing the output must show",
    ),
    "control characters": Case(
        "control.md",
        "# Control characters\n\n```python\n"
        'print("\\x1b[31mred\\x1b[0m \\u202eevil \\x07bell")\n'
        'print("::error::looks like an annotation")\n'
        "```\n",
        0,
        "",
    ),
    "secrets and the checkout": Case(
        "contained.md",
        "# What an example can reach\n\n```python\nimport os, pathlib\n"
        "print(sorted(os.environ))\n"
        "print(os.environ.get('PYLIVE_TEST_SECRET'))\n"
        "for place in " + repr([str(ROOT), str(ROOT / "docs")]) + ":\n"
        "    try:\n"
        f"        pathlib.Path(place, '{MARKER}').write_text('x')\n"
        "        print('wrote', place)\n"
        "    except OSError as error:\n"
        "        print(type(error).__name__, error.errno)\n"
        "```\n",
        0,
        "",
        (("PYLIVE_TEST_SECRET", SECRET),),
    ),
    "runaway grandchild": Case(
        "runaway.md",
        "# A grandchild that outlives its example\n\n```python\nimport subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', '{RUNAWAY}'],\n"
        "                 start_new_session=True)\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', '{RUNAWAY}'],\n"
        "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)\n"
        "print('started two')\n```\n",
        0,
        "",
    ),
}


@dataclass
class Built:
    """A fixture copy with one extra page, and what its strict build said."""

    site: Path
    out: Path
    returncode: int
    output: str


def _build(case: Case, folder: Path, strict: bool = True) -> Built:
    site = folder / "site"
    shutil.copytree(FIXTURE, site, ignore=shutil.ignore_patterns("site", "__pycache__"))
    page = site / "docs" / case.page
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(case.text, encoding="utf-8")
    out = folder / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYLIVE_")}
    # The build's own interpreter only: these pages need no version matrix (and skip its search).
    env.update(NO_MKDOCS_2_WARNING="1", PYLIVE_INTERPRETERS=sys.executable, **dict(case.env))
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict" if strict else "--no-strict",
         "-f", str(site / "mkdocs.yml"), "-d", str(out)],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    return Built(site, out, done.returncode, ANSI.sub("", done.stdout + done.stderr))


def _fixture_files() -> list[str]:
    return sorted(str(p.relative_to(FIXTURE)) for p in FIXTURE.rglob("*"))


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every case built once, two at a time; with the repository's state before and after."""
    before = (git_status(), _fixture_files())
    folders = {name: tmp_path_factory.mktemp(re.sub(r"\W+", "-", name)) for name in CASES}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_build, CASES[name], folders[name]) for name in CASES}
        results = {name: future.result() for name, future in futures.items()}
    return {"results": results, "before": before, "after": (git_status(), _fixture_files())}


def _names_page_and_line(output: str, page: str, line: int) -> bool:
    """`docs/page.md:7:` (pylive's form) or `docs/page.md: line 7:` (includes)."""
    return re.search(rf"docs/{re.escape(page)}(?::{line}\b|: line {line}\b)", output) is not None


FAILING = [
    "raising block",
    "hanging block",
    "wrong transcript output",
    "missing snippet file",
    "missing snippet section",
    "malformed option",
    "misspelled option",
    "unclosed fence",
    "missing include in prose",
    "transcript emptying its folder",
    "ellipsis hiding a claim",
    "flooding block",
    "traceback line",
    "contradicted output expectation",
    "malformed output expectation",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", FAILING)
def test_bad_page_fails_the_build_naming_page_and_line(builds: dict, name: str) -> None:
    case, built = CASES[name], builds["results"][name]
    assert built.returncode != 0, f"{name}: the strict build passed:\n{built.output}"
    assert case.says in built.output, f"{name}: the message does not say {case.says!r}:\n{built.output}"
    assert _names_page_and_line(built.output, case.page, case.line), (
        f"{name}: no message names docs/{case.page} line {case.line}:\n{built.output}"
    )
    # One line that starts with the page and line, and none of our own code's traceback.
    assert re.search(rf"^(WARNING|ERROR) +- +docs/{re.escape(case.page)}:\d+: ", built.output, re.MULTILINE), built.output
    assert 'File "' + str(ROOT / "pylive") not in built.output, f"{name}: a traceback of the engine:\n{built.output}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["malformed option", "misspelled option", "traceback line", "wrong transcript output"])
def test_a_bad_fence_renders_as_an_error_box_never_as_raw_text(builds: dict, name: str) -> None:
    """The same build without --strict (as `make serve` shows it): the page says what failed."""
    case, built = CASES[name], builds["results"][name]
    relaxed = _build(case, built.site.parent / "relaxed", strict=False)
    page = (relaxed.out / case.page.removesuffix(".md") / "index.html").read_text(encoding="utf-8")
    assert "pylive-failure" in page and html.escape(case.says) in page, page[-2000:]
    assert "--8&lt;--" not in page and "```" not in page, "the fence was printed as raw text"


@pytest.mark.slow
def test_line_numbers_count_the_front_matter(builds: dict) -> None:
    case, built = CASES["block after front matter"], builds["results"]["block after front matter"]
    assert built.returncode != 0 and case.says in built.output, built.output
    assert _names_page_and_line(built.output, case.page, case.line), built.output


@pytest.mark.slow
@pytest.mark.parametrize("name", ["broken link", "broken anchor"])
def test_broken_link_fails_the_build_naming_the_page(builds: dict, name: str) -> None:
    case, built = CASES[name], builds["results"][name]
    assert built.returncode != 0, f"{name}: the strict build passed:\n{built.output}"
    assert case.says in built.output and case.page in built.output, built.output


@pytest.mark.slow
@pytest.mark.parametrize("name", ["broken link", "broken anchor"])
def test_broken_link_message_names_the_line(builds: dict, name: str) -> None:
    case, built = CASES[name], builds["results"][name]
    assert f"docs/{case.page}:{case.line}: link to" in built.output, built.output


@pytest.mark.slow
def test_failing_notebook_cell_fails_the_build(builds: dict) -> None:
    """mkdocs-jupyter with execute: true and allow_errors: false. Its message names the
    notebook and shows the failing cell's source with the line the error is on."""
    case, built = CASES["failing notebook cell"], builds["results"]["failing notebook cell"]
    assert built.returncode != 0, f"the strict build passed:\n{built.output}"
    assert case.says in built.output, built.output
    assert case.page.rsplit("/", 1)[-1] in built.output, f"the notebook is not named:\n{built.output}"
    assert re.search(rf"\bline {case.line}\b", built.output), f"no line {case.line} in:\n{built.output}"
    assert "1 / 0" in built.output, "the failing cell's source is not shown"


@pytest.mark.slow
def test_execution_off_shows_sources_and_runs_nothing(builds: dict) -> None:
    """PYLIVE_EXECUTE=0, the fast preview of scripts/bench_build.py: every example is shown
    as written and none is run, so even a raising one builds."""
    built = builds["results"]["execution off"]
    assert built.returncode == 0, built.output
    assert re.search(r"pylive: ran 0 examples", built.output), built.output
    page = html.unescape(re.sub(r"<[^>]+>", "", (built.out / "execution-off" / "index.html").read_text()))
    assert 'raise ValueError("never run")' in page and ">>> 1 + 1" in page
    assert "Traceback" not in page


@pytest.mark.slow
def test_example_writes_only_in_its_temporary_folder(builds: dict) -> None:
    built = builds["results"]["example writing files"]
    assert built.returncode == 0, built.output
    page = (built.out / "writes-files" / "index.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    cwd = Path(re.search(r"cwd: (\S+)", text)[1])
    wrote = Path(re.search(r"wrote: (\S+)", text)[1])
    assert wrote.parent == cwd, "the example wrote somewhere else than its working folder"
    assert cwd == Path("/tmp/example"), "the working folder is shown by its stand-in name"
    for place in (built.site, ROOT / "docs", ROOT / "snippets", ROOT / "tests", ROOT / "pylive"):
        assert not list(place.rglob(MARKER)), f"an example wrote {MARKER} into {place}"
    assert not (ROOT / MARKER).exists()


def _page_text(built: Built, page: str) -> tuple[str, str]:
    raw = (built.out / page.removesuffix(".md") / "index.html").read_text(encoding="utf-8")
    return raw, html.unescape(re.sub(r"<[^>]+>", "", raw))


@pytest.mark.slow
def test_control_characters_are_made_visible(builds: dict) -> None:
    built = builds["results"]["control characters"]
    assert built.returncode == 0, built.output
    raw, text = _page_text(built, "control.md")
    for char in ("\x1b", "\x07", "\u202e"):
        assert char not in raw, f"{char!r} reached the page"
    assert "\u241b[31mred" in text and "<U+202E>evil" in text and "\u2407bell" in text
    assert "\x1b[31m" not in built.output


@pytest.mark.slow
def test_examples_see_no_secret_and_cannot_write_the_checkout(builds: dict) -> None:
    built = builds["results"]["secrets and the checkout"]
    assert built.returncode == 0, built.output
    raw, text = _page_text(built, "contained.md")
    assert SECRET not in raw and "None" in text
    assert "['COLUMNS', 'HOME', 'LANG', 'LC_ALL', 'PAGER', 'PATH', 'TERM', 'TMPDIR']" in text, text
    assert "wrote /" not in text and text.count("OSError 30") == 2, text  # EROFS: a read-only view
    assert not (ROOT / MARKER).exists() and not (ROOT / "docs" / MARKER).exists()


@pytest.mark.slow
def test_an_example_is_ended_whole(builds: dict) -> None:
    """Grandchildren in a new session, holding the output pipe or not, end with the example."""
    built = builds["results"]["runaway grandchild"]
    assert built.returncode == 0, built.output
    left = subprocess.run(["pgrep", "-f", RUNAWAY], capture_output=True, text=True)
    assert left.stdout.strip() == "", f"processes outlived their example: {left.stdout}"


@pytest.mark.slow
def test_a_cut_cache_entry_is_a_miss(tmp_path: Path) -> None:
    """A cache entry cut short (what a killed `make serve` can leave) is computed again."""
    case = Case("cached.md", '# Cached\n\n```python\nprint("from", "the", "example")\n```\n', 0, "")
    cache = tmp_path / "cache"
    first = _build(dataclasses.replace(case, env=(("PYLIVE_CACHE", str(cache)),)), tmp_path / "first")
    entries = list(cache.rglob("*.json"))
    assert first.returncode == 0 and entries, first.output
    for entry in entries:
        entry.write_text(entry.read_text()[:10])
    second = _build(dataclasses.replace(case, env=(("PYLIVE_CACHE", str(cache)),)), tmp_path / "second")
    assert second.returncode == 0, second.output
    assert "from the example" in _page_text(second, "cached.md")[1]
    assert all(entry.read_text().endswith("}") for entry in entries), "the cut entries were not written anew"


@pytest.mark.slow
def test_bad_builds_leave_the_repository_as_it_was(builds: dict) -> None:
    (status_before, fixture_before), (status_after, fixture_after) = builds["before"], builds["after"]
    assert fixture_after == fixture_before, "a build wrote into tests/fixtures/site"
    check_repository_unchanged(status_before, status_after, "the builds of bad pages")


# -- pylive/links.py: the line of each broken link and anchor ------------------------------

FILES = {"index.md", "running/index.md", "running/pipeline.md", "assets/site.css", "img/a.png"}
ANCHORS = {
    "index.md": {"welcome", "a-section"},
    "running/index.md": {"how-python-runs-your-code"},
    "running/pipeline.md": {"from-source-to-bytecode", "the-compiler"},
}
PAGE = """\
# Pipeline

Good: [home](../index.md), [a section](../index.md#a-section), [here](#the-compiler),
[chapter](index.md#how-python-runs-your-code), ![an image](../img/a.png "title"),
[style](<../assets/site.css>), [PEP 659](https://peps.python.org/pep-0659/), [mail](mailto:a@b.c),
[top](#), [absolute](/elsewhere/).

Bad: [nope](nope.md) and [bad anchor](../index.md#nowhere).

```python
print("[not a link](nowhere.md)")
```

Inline `[code](nowhere.md)` is not a link. <!-- [comment](nowhere.md) -->

[ref]: missing.md
[ok-ref]: ../index.md "a title"

<a href="#no-id">html anchor</a> and <img src="../img/missing.png" alt="x">

A folder: [chapter](./), and outside: [up](../../README.md), [same](#the-compiler "t").
"""


def test_find_links_reports_lines_and_skips_code() -> None:
    found = links.find_links(PAGE)
    targets = [link.target for link in found]
    assert "nowhere.md" not in targets, "a link inside code or a comment was reported"
    assert links.Link(3, "../index.md") in found
    assert links.Link(5, "../assets/site.css") in found
    assert links.Link(8, "nope.md") in found
    assert links.Link(16, "missing.md") in found
    assert links.Link(19, "#no-id") in found
    assert links.Link(19, "../img/missing.png") in found


def test_broken_links_name_the_line_and_the_reason() -> None:
    problems = links.broken_links("running/pipeline.md", PAGE, FILES, ANCHORS)
    found = {(p.line, p.target): p.reason for p in problems}
    assert set(found) == {
        (8, "nope.md"),
        (8, "../index.md#nowhere"),
        (16, "missing.md"),
        (19, "#no-id"),
        (19, "../img/missing.png"),
        (21, "./"),
        (21, "../../README.md"),
    }
    assert found[(8, "../index.md#nowhere")] == "docs/index.md has no anchor #nowhere"
    assert "running/index.md" in found[(21, "./")]
    assert str(problems[0]) == "docs/running/pipeline.md:8: link to nope.md not found (no file docs/running/nope.md)"


def test_links_with_parentheses_spaces_and_escapes() -> None:
    text = "[a](page%20two.md) [b](<page two.md#sec>) [c](wiki_(x).md)\n"
    files = {"page two.md", "wiki_(x).md"}
    assert links.broken_links("index.md", text, files, {"page two.md": {"sec"}}) == []
    assert [p.target for p in links.broken_links("index.md", text, {"page two.md"}, {})] == ["wiki_(x).md"]


def test_anchor_of_a_page_without_known_anchors_is_not_judged() -> None:
    assert links.broken_links("index.md", "[x](other.md#sec)\n", {"index.md", "other.md"}, {}) == []


def test_ids_in_html() -> None:
    ids = links.ids_in_html('<h2 id="a-b">A<a class="headerlink" href="#a-b">¶</a></h2><a name="old"></a><p id=x>')
    assert ids == {"a-b", "old", "x"}


def test_line_numbers_count_front_matter() -> None:
    source = "---\ntitle: x\n---\n\n# T\n\n[bad](nope.md)\n"
    markdown = "# T\n\n[bad](nope.md)\n"  # what MkDocs hands plugins: the front matter removed
    first = links.first_line_of(markdown, source)
    assert first == 5
    assert [p.line for p in links.broken_links("index.md", markdown, {"index.md"}, {}, first)] == [7]
    assert links.first_line_of("changed by a plugin", source) == 1


def test_link_checker_collects_a_build() -> None:
    checker = links.LinkChecker()
    files = ["index.md", "other.md", "assets/site.css"]
    checker.page_markdown("index.md", "# Home\n\n[other](other.md#part)\n", None, files)
    checker.page_markdown("other.md", "# Other\n\n[home](index.md#home)\n[gone](gone.md)\n", None, files)
    checker.page_content("index.md", '<h1 id="home">Home</h1>')
    checker.page_content("other.md", '<h1 id="other">Other</h1>')
    assert [str(p) for p in checker.problems()] == [
        "docs/index.md:3: link to other.md#part not found (docs/other.md has no anchor #part)",
        "docs/other.md:4: link to gone.md not found (no file docs/gone.md)",
    ]
