"""The build-time engine on good and bad input (pylive/engine.py and pylive/fences.py)."""

from __future__ import annotations

import datetime
import html
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import ROOT
from pylive import engine, expect, fences, wasm

PYTHON = engine.build_interpreter()


# -- interpreters --------------------------------------------------------------------


def test_the_build_interpreter_is_the_running_one() -> None:
    assert PYTHON.version.startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")
    assert PYTHON.cache_tag == sys.implementation.cache_tag
    assert PYTHON.label.startswith("CPython 3.")


def test_discovery_keeps_one_interpreter_per_minor_version_oldest_first() -> None:
    matrix = engine.discover()
    minors = [i.minor for i in matrix]
    assert PYTHON.minor in minors
    assert len(minors) == len(set(minors))
    assert [i.version_key for i in matrix] == sorted(i.version_key for i in matrix)
    assert all(i.version_key >= (3, 10) for i in matrix)


def test_explicit_interpreters_replace_the_search_and_must_run(tmp_path: Path) -> None:
    assert engine.discover([sys.executable]) == [engine.probe(sys.executable)]
    with pytest.raises(engine.EngineError, match="does not run"):
        engine.discover([str(tmp_path / "python3.99")])


# -- programs ------------------------------------------------------------------------


def test_everything_written_to_stdout_and_stderr_is_captured_in_order() -> None:
    code = textwrap.dedent(
        """
        import dis, sys
        print("first")
        print("second", file=sys.stderr)
        dis.dis(compile("x + 1", "<expr>", "eval"))
        """
    )
    run = engine.run_script(code, PYTHON)
    assert run.returncode == 0
    assert run.output.index("first") < run.output.index("second") < run.output.index("LOAD_")


def test_a_raising_program_reports_its_traceback_and_exit_code() -> None:
    run = engine.run_script("raise ValueError('bad input')", PYTHON)
    assert run.returncode == 1
    assert "ValueError: bad input" in run.output


def test_a_hanging_program_and_its_children_are_killed_at_the_timeout(tmp_path: Path) -> None:
    marker = tmp_path / "child-still-alive"
    code = textwrap.dedent(
        f"""
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3); open({str(marker)!r}, 'w')"])
        while True:
            time.sleep(0.1)
        """
    )
    started = time.perf_counter()
    run = engine.run_script(code, PYTHON, timeout=1)
    assert run.timed_out
    assert time.perf_counter() - started < 5
    time.sleep(3.5)
    assert not marker.exists(), "a child of the hung example survived the timeout"


def test_programs_run_in_a_fresh_temporary_folder() -> None:
    """Each run has a folder of its own, empty but for the program, shown by its stand-in name."""
    code = "import os; print(os.getcwd()); print(sorted(os.listdir())); open('written.txt', 'w').write('x')"
    first = engine.run_script(code, PYTHON).output.splitlines()
    second = engine.run_script(code + "\n", PYTHON).output.splitlines()
    assert first == second == ["/tmp/example", "['example.py']"], (first, second)


def test_examples_get_pythons_defaults_not_the_builds_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    run = engine.run_script("import sys; print(sys.dont_write_bytecode)", PYTHON)
    assert run.output == "False\n"


# -- transcripts ---------------------------------------------------------------------


def transcript(text: str, timeout: float = 10) -> tuple[list[engine.Statement], engine.TranscriptRun]:
    statements = engine.parse_transcript(textwrap.dedent(text))
    return statements, engine.run_transcript(statements, PYTHON, timeout)


def test_each_statement_is_compiled_on_its_own_as_at_the_prompt() -> None:
    statements, run = transcript(
        """
        >>> a = 257
        >>> b = 257
        >>> a is b
        False
        """
    )
    assert run.outputs == ["", "", "False\n"]
    assert engine.mismatches(statements, run) == []


def test_expression_values_are_echoed_and_compound_statements_complete() -> None:
    statements, run = transcript(
        """
        >>> 6 * 7
        42
        >>> _ + 1
        43
        >>> for i in range(2):
        ...     print(i)
        0
        1
        >>> None
        """
    )
    assert run.outputs == ["42\n", "43\n", "0\n1\n", ""]
    assert engine.mismatches(statements, run) == []


def test_a_wrong_written_output_is_reported_with_its_line() -> None:
    statements, run = transcript(
        """
        >>> x = 1
        >>> x + 1
        3
        """
    )
    [(statement, problem)] = engine.mismatches(statements, run)
    assert statement.line == 3 and problem.startswith(">>> x + 1")
    assert "'3'" in problem and "'2'" in problem


def test_ellipsis_and_tracebacks_follow_doctest_rules() -> None:
    statements, run = transcript(
        """
        >>> object()
        <object object at 0x...>
        >>> 1 / 0
        Traceback (most recent call last):
          ...
        ZeroDivisionError: division by zero
        """
    )
    assert run.outputs[1].startswith("Traceback (most recent call last):\n  File")
    assert engine.mismatches(statements, run) == []
    wrong = [statements[0], engine.Statement(statements[1].source, "", 4, "ValueError: nope\n")]
    assert len(engine.mismatches(wrong, run)) == 1


def test_a_hanging_statement_is_named_by_what_ran_before_it() -> None:
    statements, run = transcript(
        """
        >>> 1
        1
        >>> while True: pass
        >>> 2
        2
        """,
        timeout=1,
    )
    assert run.timed_out
    assert run.outputs == ["1\n"]  # so the hung statement is the second one


def test_text_without_prompts_is_not_a_transcript() -> None:
    with pytest.raises(engine.EngineError, match="at least one"):
        engine.parse_transcript("just text\n")


# -- cache ---------------------------------------------------------------------------


def test_the_cache_returns_the_same_run_for_the_same_code_and_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = "import random; print(random.random())"
    monkeypatch.delenv("PYLIVE_CACHE")  # the test run's own cache (conftest.py)
    fresh = [engine.run_script(code, PYTHON).output for _ in range(2)]
    assert fresh[0] != fresh[1]
    monkeypatch.setenv("PYLIVE_CACHE", str(tmp_path))
    cached = [engine.run_script(code, PYTHON).output for _ in range(2)]
    assert cached[0] == cached[1]
    assert engine.run_script(code + "  # changed\n", PYTHON).output != cached[0]


def test_a_copy_of_the_checkout_finds_the_same_cached_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYLIVE_CACHE", str(tmp_path / "cache"))
    for checkout in ("original", "copy"):
        (tmp_path / checkout / "helpers").mkdir(parents=True)
        (tmp_path / checkout / "helpers" / "shapes.py").write_text("SIDES = 4\n")
    monkeypatch.setattr(engine, "HELPER_PATH", [str(tmp_path / "original" / "helpers")])
    original = engine._cache_file("Run", "print(1)")
    monkeypatch.setattr(engine, "HELPER_PATH", [str(tmp_path / "copy" / "helpers")])
    assert engine._cache_file("Run", "print(1)") == original
    (tmp_path / "copy" / "helpers" / "shapes.py").write_text("SIDES = 5\n")
    assert engine._cache_file("Run", "print(1)") != original, "a helper's content is part of the key"


def test_the_summary_does_not_count_cached_results_as_run(tmp_path: Path) -> None:
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    page = f'# Page\n\n```python\n{burn}\nprint("{tmp_path.name}")\n```\n'
    cache = str(tmp_path / "cache")
    first, _ = build(tmp_path / "first", page, PYLIVE_CACHE=cache)
    again, _ = build(tmp_path / "again", page, PYLIVE_CACHE=cache)
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert "from the result cache" not in first.stderr
    assert "(1 started early; 1 from the result cache, not run again) in 0.0 s of run time" in again.stderr
    # What ran is also counted in CPU seconds, as its sandbox measured them.
    cpu = re.search(r"CPU time: native ([\d.]+) s", first.stderr)
    assert cpu and 0.3 <= float(cpu[1]) < 1.5, first.stderr
    assert "CPU time: native" not in again.stderr


def test_failures_are_never_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYLIVE_CACHE", str(tmp_path))
    engine.run_script("import random; raise SystemExit(random.random())", PYTHON)
    assert not list(tmp_path.rglob("*.json"))


# -- fences --------------------------------------------------------------------------

PAGE = """\
# Title

```python versions="all"
print(1)
```

!!! note
    ```{.pycon timeout="3"}
    >>> 1
    1
    ```

````markdown
```text
not a fence of its own
```
````

```bash norun="a shell command"
ls
```

```text
unmarked
```
"""


def test_the_scanner_finds_every_fence_with_its_line_and_options() -> None:
    found = fences.scan(PAGE)
    assert [(f.line, f.lang, f.indent) for f in found] == [
        (3, "python", ""),
        (8, "pycon", "    "),
        (13, "markdown", ""),
        (19, "bash", ""),
        (23, "text", ""),
    ]
    assert found[0].options == {"versions": "all"}
    assert found[1].options == {"timeout": "3"} and found[1].braces
    assert found[1].body == ">>> 1\n1"


def test_fences_nobody_runs_must_give_a_reason() -> None:
    assert [(f.line, f.lang) for f in fences.unaccounted(PAGE)] == [(13, "markdown"), (23, "text")]


def test_annotation_gives_run_fences_their_page_and_line_in_both_styles() -> None:
    lines = fences.annotate(PAGE, "docs/x.md").split("\n")
    assert lines[2] == '```python versions="all" loc="docs/x.md:3"'
    assert lines[7] == '    ```{.pycon timeout="3" loc="docs/x.md:8"}'
    assert lines[18] == '```bash norun="a shell command" loc="docs/x.md:19"'
    assert lines[22] == "```text"


def test_includes_of_missing_files_and_sections_are_found(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("# --8<-- [start:part]\nx = 1\n# --8<-- [end:part]\n")
    page = '```python\n--8<-- "ok.py:part"\n--8<-- "ok.py:nope"\n--8<-- "gone.py"\n```\n'
    [fence] = fences.scan(page)
    assert fences.missing_includes(fence, tmp_path) == [
        (3, "'ok.py' has no section 'nope'"),
        (4, "included file 'gone.py' does not exist"),
    ]


# -- the plugin, in a real build ------------------------------------------------------

SITE_CONFIG = """\
site_name: engine test
strict: true
plugins: [pylive]
markdown_extensions:
  - admonition
  - pymdownx.superfences
  - pymdownx.tabbed: {alternate_style: true}
  - pymdownx.snippets: {check_paths: true}
"""


def build(tmp_path: Path, page: str, config: str = SITE_CONFIG, **env: str) -> tuple[subprocess.CompletedProcess, str]:
    """Build a one-page site; its runtimes are whatever the machine has (CI's requirement
    of every runtime of the real site is not this site's), unless env says otherwise."""
    (tmp_path / "docs").mkdir(parents=True)
    (tmp_path / "mkdocs.yml").write_text(config)
    (tmp_path / "docs" / "index.md").write_text(page)
    inherited = {k: v for k, v in os.environ.items() if k != "PYLIVE_REQUIRE_VERSIONS"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**inherited, "NO_MKDOCS_2_WARNING": "1", **env},
    )
    html = tmp_path / "site" / "index.html"
    return done, html.read_text() if html.exists() else ""


def test_a_page_shows_real_dis_output_and_real_repl_values(tmp_path: Path) -> None:
    page = textwrap.dedent(
        """\
        # Page

        ```python
        import dis
        dis.dis(compile("a + b", "<expr>", "eval"))
        ```

        ```pycon
        >>> a = 257
        >>> b = 257
        >>> a is b
        False
        ```
        """
    )
    done, html = build(tmp_path, page)
    assert done.returncode == 0, done.stderr
    assert "LOAD_NAME" in html and ("BINARY_OP" in html or "BINARY_ADD" in html)
    # A block that names no version runs under the newest native CPython of the matrix.
    assert "False" in html and f"Output · {engine.newest_native(engine.discover()).label}" in html


def test_the_version_matrix_renders_a_tab_per_interpreter(tmp_path: Path) -> None:
    page = '# Page\n\n```python versions="all"\nimport sys\nprint(sys.version)\n```\n'
    done, html = build(tmp_path, page)
    assert done.returncode == 0, done.stderr
    matrix = engine.discover()
    labels = re.findall(r'<label for="[^"]*">([^<]*)</label>', html)
    # newest first, each named by its minor version; the output names the exact runtime
    assert labels == [i.minor for i in reversed(matrix)], labels
    for interpreter in matrix:
        assert f"Output · {interpreter.label}" in html
    if len(matrix) > 1:  # an expected difference: information, not a warning
        assert '<div class="admonition info">\n<p class="admonition-title">The output differs between versions' in html


def test_a_failing_example_fails_the_strict_build_naming_page_and_line(tmp_path: Path) -> None:
    done, _ = build(tmp_path, "# Page\n\nText.\n\n```python\nraise RuntimeError('boom')\n```\n")
    assert done.returncode != 0
    assert "docs/index.md:6: python block" in done.stderr  # the line that raised
    assert "RuntimeError: boom" in done.stderr


def test_an_unknown_option_is_an_error_not_a_silent_default(tmp_path: Path) -> None:
    done, _ = build(tmp_path, '# Page\n\n```python version="all"\nprint(1)\n```\n')
    assert done.returncode != 0
    assert "docs/index.md:3: unknown option(s) version" in done.stderr


def test_predict_shows_code_and_question_and_folds_what_python_printed(tmp_path: Path) -> None:
    page = textwrap.dedent(
        """\
        # Page

        ```python predict="What does the list hold?"
        grid = [[0] * 2] * 2
        grid[0][0] = 99
        print(grid)
        ```

        ```pycon predict="Is it the same object?"
        >>> a = 100_000
        >>> b = 100_000
        >>> a is b
        False
        ```
        """
    )
    done, html = build(tmp_path, page)
    assert done.returncode == 0, done.stderr
    folds = re.findall(r'<details class="question pylive-answer">\s*<summary>Show what Python printed</summary>'
                       r"(.*?)</details>", html, re.S)
    assert len(folds) == 2, html
    content = html[html.index("<h1"):html.rindex("</details>") + len("</details>")]
    outside = re.sub(r"<[^>]+>", "", re.sub(r"<details.*?</details>", "", content, flags=re.S))
    label = engine.newest_native(engine.discover()).label
    # The program's output, with its runtime, only inside the fold; the code and question before it.
    assert "[[99, 0], [99, 0]]" in folds[0] and f"Output · {label}" in folds[0]
    assert "99, 0]" not in outside and "print(grid)" in outside.split("What does the list hold?")[0]
    # The transcript: what is typed above the fold, what the REPL answered inside it.
    assert "False" in folds[1] and f"REPL · {label}" in folds[1]
    assert "False" not in outside and "&gt;&gt;&gt; a is b" in outside.split("Is it the same object?")[0]


@pytest.mark.parametrize("options, problem", [
    ('predict=""', "predict= needs the question"),
    ('predict="Why?" source="below"', 'predict= shows the source above the question: it cannot go with source="below"'),
    ('predict="Why?" output="none"', "predict= folds the output"),
])
def test_a_predict_that_cannot_fold_fails_naming_page_and_line(tmp_path: Path, options: str, problem: str) -> None:
    done, html = build(tmp_path, f"# Page\n\n```python {options}\nprint(1)\n```\n")
    assert done.returncode != 0
    assert f"docs/index.md:3: {problem}" in done.stderr


def test_a_page_says_when_its_outputs_were_produced_and_by_which_runtime(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    page = "# Page\n\n```python\nprint('made now')\n```\n\n```python\nprint('made long ago')\n```\n"
    cache = tmp_path / "cache"
    monkeypatch.setenv("PYLIVE_CACHE", str(cache))
    done, _ = build(tmp_path / "first", page)
    assert done.returncode == 0, done.stderr
    # The second example's result, as an earlier build left it in the cache.
    entry = next(p for p in cache.rglob("*.json") if json.loads(p.read_text()).get("output") == "made long ago\n")
    entry.write_text(json.dumps({**json.loads(entry.read_text()), "finished": 1_700_000_000.0}))
    done, html = build(tmp_path / "again", page)
    assert done.returncode == 0, done.stderr
    stamp = re.search(r'<p class="pylive-page-stamp"[^>]*><small>(.*?)</small></p>', html)
    assert stamp, "the page has no stamp"
    today = datetime.datetime.now(datetime.timezone.utc)
    label = engine.newest_native(engine.discover()).label
    assert stamp[1] == (f"The outputs on this page were produced between November 14, 2023 and "
                        f"{today:%B} {today.day}, {today.year} (UTC) by {label}."), stamp[1]
    done, html = build(tmp_path / "none", "# Page\n\nNo example here.\n")
    assert done.returncode == 0 and "pylive-page-stamp" not in html


# What `mkdocs serve --dirty` does on each rebuild, in one process: build, then rebuild
# after each edit, saying whether the what-changed page was written again and how many
# templates Jinja compiled.
REBUILDS = r"""
import json, logging, sys, time
from pathlib import Path
import jinja2
from mkdocs.commands.build import build
from mkdocs.config import load_config

compiled = 0
compile_template = jinja2.Environment.compile
def counting(self, *args, **kwargs):
    global compiled
    compiled += 1
    return compile_template(self, *args, **kwargs)
jinja2.Environment.compile = counting
logging.basicConfig(level=logging.ERROR)  # a --dirty build warns that it is one, as `make serve` shows

written = Path("site/changes/index.html")
page = Path("docs/index.md")
config = load_config(site_dir="site", strict=False)
config.plugins.on_startup(command="serve", dirty=True)
facts = []
for edit in [None, *sys.argv[1:]]:
    if edit:
        time.sleep(0.05)  # a new modification time
        old, new = edit.split("=>")
        page.write_text(page.read_text().replace(old, new))
        config = load_config(site_dir="site", strict=False)
    compiled, before = 0, written.stat().st_mtime_ns if written.exists() else None
    build(config, serve_url="http://127.0.0.1:8000/", dirty=True)
    facts.append({"compiled": compiled, "changes_written": written.stat().st_mtime_ns != before,
                  "changes": written.read_text()})
config.plugins.on_shutdown()
print(json.dumps(facts))
"""


def test_make_serve_looks_for_edits_every_tenth_of_a_second_and_rebuilds_at_once(tmp_path: Path) -> None:
    from mkdocs.livereload import LiveReloadServer

    from pylive.plugin import POLL_SECONDS, SETTLE_SECONDS, LivePlugin

    server = LiveReloadServer(builder=lambda: None, host="127.0.0.1", port=0, root=str(tmp_path))
    (tmp_path / "docs").mkdir()
    (tmp_path / "snippets").mkdir()
    server.watch(str(tmp_path / "docs"))  # what MkDocs watches before plugins' on_serve
    assert LivePlugin().on_serve(server, config=None, builder=None) is server
    server.watch(str(tmp_path / "snippets"))  # mkdocs.serve.yml's watch:, after on_serve
    assert POLL_SECONDS <= 0.1
    assert [emitter.timeout for emitter in server.observer.emitters] == [POLL_SECONDS] * 2
    assert server.build_delay == SETTLE_SECONDS < POLL_SECONDS  # MkDocs waits 0.1 s after an edit


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_a_serve_rebuild_compiles_no_template_and_writes_what_changed_only_when_it_changed(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "mkdocs.yml").write_text(SITE_CONFIG.replace(
        "plugins: [pylive]", 'plugins: [{pylive: {versions: ["3.12", "3.13"], changes_page: changes.md}}]'))
    (tmp_path / "docs" / "index.md").write_text(
        '# Page\n\nSome prose.\n\n```python versions="all"\nimport sys\nprint(sys.version_info >= (3, 13))\n```\n')
    done = subprocess.run([sys.executable, "-c", REBUILDS, "Some prose.=>Other prose.", "(3, 13)=>(3, 0)"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**{k: v for k, v in os.environ.items() if k != "PYLIVE_REQUIRE_VERSIONS"},
                               "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr
    first, prose, code = json.loads(done.stdout)
    assert first["compiled"] > 0 and first["changes_written"] and "-False\n+True" in _text(first["changes"])
    assert prose["compiled"] == 0, "a rebuild compiled the theme's templates again"
    assert not prose["changes_written"], "a prose edit wrote the unchanged what-changed page again"
    assert code["changes_written"] and "No example printed anything different" in code["changes"]


# -- runtimes side by side: WebAssembly, other implementations, what the tabs say ----------

WASM = (ROOT / "node_modules" / "pyodide-314").is_dir()
needs_wasm = pytest.mark.skipif(not WASM and not os.environ.get("CI"), reason="npm ci has not installed Pyodide")


def build_with_runtimes(tmp_path: Path, page: str) -> tuple[subprocess.CompletedProcess, str]:
    """A site with the runtimes of node_modules too: CPython and MicroPython on WebAssembly."""
    tmp_path.mkdir(exist_ok=True)
    if (ROOT / "node_modules").is_dir():
        (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    return build(tmp_path, page)


@needs_wasm
def test_a_runtime_that_lacks_a_need_says_it_did_not_run_the_example(tmp_path: Path) -> None:
    page = ('# Page\n\n```python versions="all" needs="threads"\nimport threading\n'
            't = threading.Thread(target=print, args=("in a thread",))\nt.start()\nt.join()\n```\n')
    done, html = build_with_runtimes(tmp_path, page)
    assert done.returncode == 0, done.stderr
    assert "Not run on CPython 3.14.2 · WebAssembly" in html and "needs threads" in html
    assert "in a thread" in html


@needs_wasm
def test_an_undeclared_need_fails_naming_the_option(tmp_path: Path) -> None:
    page = ('# Page\n\n```python versions="all"\nimport threading\n'
            't = threading.Thread(target=print, args=("in a thread",))\nt.start()\nt.join()\n```\n')
    done, _ = build_with_runtimes(tmp_path, page)
    assert done.returncode != 0
    assert 'docs/index.md:3: python block under CPython 3.14.2 · WebAssembly failed for want of threads' in done.stderr
    assert 'needs="threads"' in done.stderr


@needs_wasm
def test_the_same_output_everywhere_is_shown_once_with_the_range(tmp_path: Path) -> None:
    done, html = build_with_runtimes(tmp_path, '# Page\n\n```python versions="all"\nprint(6 * 7)\n```\n')
    assert done.returncode == 0, done.stderr
    first = engine.discover()[0]
    assert f"Output · CPython {first.version} – 3.15.0rc1 · native and WebAssembly" in html
    assert "tabbed-set" not in html


@needs_wasm
@pytest.mark.parametrize("changes, passes", [("3.12", True), ("3.13", False), ("none", False)])
def test_a_stated_change_is_checked_both_ways(tmp_path: Path, changes: str, passes: bool) -> None:
    page = f'# Page\n\n```python versions="all" changes="{changes}"\nimport sys\nprint(sys.version_info >= (3, 12))\n```\n'
    done, html = build_with_runtimes(tmp_path, page)
    assert (done.returncode == 0) == passes, done.stderr
    if not passes:
        assert f'the output changes at 3.12, but changes="{changes}"' in done.stderr
    else:  # newest first; the change is marked where it happened, against the version before
        labels = re.findall(r'<label for="[^"]*">([^<]*)</label>', html)
        blocks = html.split('<div class="tabbed-block">')[1:]
        marked = [label for label, block in zip(labels, blocks) if 'class="hll"' in block]
        assert labels[0] == "3.15" and marked == ["3.12"], (labels, marked)


@pytest.mark.skipif(not engine.discover_others(), reason="neither pypy3 nor jython is installed")
def test_other_implementations_run_when_named(tmp_path: Path) -> None:
    others = engine.discover_others()
    names = ",".join(i.implementation.lower() for i in others)
    page = (f'# Page\n\n```python versions="{names}" timeout="60"\nfrom __future__ import print_function\n'
            'import platform\nprint(platform.python_implementation())\n```\n')
    done, html = build(tmp_path, page)
    assert done.returncode == 0, done.stderr
    for interpreter in others:
        assert interpreter.label in html and re.search(rf">{interpreter.implementation}\n<", html), html


MICROPYTHON = (ROOT / "node_modules" / wasm.MICROPYTHON_PACKAGE).is_dir()


@pytest.mark.skipif(not MICROPYTHON and not os.environ.get("CI"), reason="npm ci has not installed MicroPython")
def test_micropython_runs_when_named_and_its_outputs_say_so(tmp_path: Path) -> None:
    page = ('# Page\n\n```python versions="micropython"\nimport sys\nprint(sys.implementation.name)\n```\n\n'
            '```pycon versions="micropython"\n>>> int("100000") is int("100000")\nTrue\n```\n\n'
            '```python versions="micropython" needs="threads"\nimport threading\n```\n')
    done, html = build_with_runtimes(tmp_path, page)
    assert done.returncode == 0, done.stderr
    assert "Output · MicroPython 1.27.0 (Python 3.4.0) · WebAssembly" in html
    assert "REPL · MicroPython 1.27.0 (Python 3.4.0) · WebAssembly" in html
    assert re.search(r">micropython\n<", html), html
    assert "Not run on MicroPython 1.27.0 (Python 3.4.0) · WebAssembly" in html and "needs threads" in html


def test_micropython_missing_from_the_machine_is_named_on_the_page(tmp_path: Path) -> None:
    # No node_modules beside this site: the build passes and the page says what it lacks.
    done, html = build(tmp_path, '# Page\n\n```python versions="micropython"\nprint(1)\n```\n')
    assert done.returncode == 0, done.stderr
    assert "Not run in this build: MicroPython" in html


def test_a_runtime_of_the_site_that_the_machine_lacks_is_named_on_the_page(tmp_path: Path) -> None:
    # The site shows 3.99 too, which no machine has: the build passes and the page says so.
    config = SITE_CONFIG.replace("plugins: [pylive]", 'plugins: [{pylive: {versions: ["3.99"]}}]')
    page = ('# Page\n\n```python versions="all" changes="3.99"\nprint(6 * 7)\n```\n\n'
            '```python versions="3.99"\nprint(1)\n```\n\n```pycon versions="3.99"\n>>> 1\n1\n```\n')
    done, html = build(tmp_path, page, config, PYLIVE_INTERPRETERS=sys.executable)
    assert done.returncode == 0, done.stderr
    assert html.count("Not run in this build: CPython 3.99") == 3
    assert "42" in html
    assert "changes= at 3.99 not checked in this build" in done.stderr


@pytest.mark.parametrize("option", ['versions="3.31"', 'versions="all" changes="3.31"'])
def test_a_version_that_is_not_the_sites_fails(tmp_path: Path, option: str) -> None:
    done, _ = build(tmp_path, f"# Page\n\n```python {option}\nprint(1)\n```\n")
    assert done.returncode != 0
    assert "docs/index.md:3:" in done.stderr and "3.31" in done.stderr


def test_a_required_runtime_the_machine_lacks_stops_the_build(tmp_path: Path) -> None:
    done, _ = build(tmp_path, "# Page\n", PYLIVE_INTERPRETERS=sys.executable, PYLIVE_REQUIRE_VERSIONS="3.99,jython")
    assert done.returncode != 0
    assert "the build needs 3.99" in done.stderr


def test_choose_names_versions_and_implementations() -> None:
    cpython = [engine.Interpreter(f"/p/3.{m}", f"3.{m}.0", "CPython", f"cpython-3{m}") for m in (12, 13)]
    pypy = engine.Interpreter("/p/pypy3", "3.9.16", "PyPy", "pypy39", release="7.3.11")
    assert engine.choose("all,pypy", cpython, cpython[0], [pypy]) == engine.Choice([*cpython, pypy], [], [])
    assert engine.choose("3.13,jython", cpython, cpython[0], [pypy]) == engine.Choice([cpython[1]], ["Jython"], [])
    assert engine.choose("", cpython, cpython[0]) == engine.Choice([cpython[0]], [], [])
    # The site's versions that the machine lacks are absent; other words are unknown.
    site = ["3.12", "3.13", "3.14"]
    assert engine.choose("all", cpython, cpython[0], [], site) == engine.Choice(cpython, ["CPython 3.14"], [])
    assert engine.choose("3.14,3.31,lisp", cpython, cpython[0], [], site) == engine.Choice([], ["CPython 3.14"],
                                                                                          ["3.31", "lisp"])
    assert pypy.label == "PyPy 7.3.11 (Python 3.9.16) · native"


def test_a_compound_statement_is_shown_as_typed_with_its_closing_line() -> None:
    [compound, simple] = engine.parse_transcript(">>> for i in range(2):\n...     print(i)\n0\n1\n>>> 1\n1\n")
    assert compound.typed == ">>> for i in range(2):\n...     print(i)\n..."
    assert simple.typed == ">>> 1"


def test_candidates_are_pyenvs_installs_not_its_shims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for place in ("pyenv/shims/python3.12", "pyenv/versions/3.12.1/bin/python3", "usr/bin/python3.11"):
        (tmp_path / place).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / place).write_text("#!/bin/sh\n")
        (tmp_path / place).chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'pyenv' / 'shims'}{os.pathsep}{tmp_path / 'usr' / 'bin'}")
    found = engine.candidate_paths(str(tmp_path / "pyenv"))
    assert found[1:] == [str(tmp_path / "usr/bin/python3.11"), str(tmp_path / "pyenv/versions/3.12.1/bin/python3")]


def test_a_probe_is_kept_for_the_very_same_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text(f'#!/bin/sh\nexec {PYTHON.path} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PYLIVE_CACHE", str(tmp_path / "cache"))
    probes = []
    real = engine._probe
    monkeypatch.setattr(engine, "_probe", lambda *args: probes.append(args) or real(*args))
    first = engine.probe(str(wrapper))
    engine.probe.cache_clear()
    again = engine.probe(str(wrapper))
    assert first == again and first is not None and first.version == PYTHON.version
    assert len(probes) == 1, "the second build of the run asked the interpreter again"
    os.utime(wrapper, ns=(1, 1))  # another executable at that path: asked again
    engine.probe.cache_clear()
    assert engine.probe(str(wrapper)) == first and len(probes) == 2
    engine.probe.cache_clear()


# -- what the page gives the reader's browser to run an example (docs/assets/live/live.js) ---


class _Marks(HTMLParser):
    """The data-pylive-* attributes of each runnable example of a page, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div" and ("class", "pylive-live") in attrs:
            self.blocks.append({name.removeprefix("data-pylive-"): value for name, value in attrs if name != "class"})


def _marks(html: str) -> list[dict[str, str | None]]:
    parser = _Marks()
    parser.feed(html)
    return parser.blocks


@pytest.mark.parametrize("execute", ["1", "0"])
def test_each_example_carries_the_exact_code_the_browser_runs(tmp_path: Path, execute: str) -> None:
    page = textwrap.dedent(
        """\
        # Page

        ```python timeout="20"
        print("<b> & 'quotes'")
        ```

        ```pycon
        >>> for i in range(2):
        ...     print(i)
        0
        1
        >>> 6 * 7
        42
        ```

        ```python needs="timing,threads"
        print("ran")
        ```

        ```python output="html"
        print("<em>drawn</em>")
        ```

        ```python versions="build"
        print("with the site's packages")
        ```

        ```text norun="not an example"
        plain
        ```
        """
    )
    done, html = build(tmp_path, page, PYLIVE_EXECUTE=execute)
    assert done.returncode == 0, done.stderr
    assert _marks(html) == [
        # Exactly what ran, escaped in the page and whole again in the browser.
        {"kind": "python", "source": "print(\"<b> & 'quotes'\")", "timeout": "20"},
        # A transcript: its typed lines, as the build typed them (a compound statement closed).
        {"kind": "pycon", "source": ">>> for i in range(2):\n...     print(i)\n...\n>>> 6 * 7", "timeout": "10"},
        # What CPython on WebAssembly lacks: the browser says so instead of offering Run.
        {"kind": "python", "source": 'print("ran")', "lacks": "threads,timing", "timeout": "10"},
        {"kind": "python", "source": 'print("<em>drawn</em>")', "output": "html", "timeout": "10"},
        # Run by the build's own interpreter, with the site's packages, which the browser lacks.
        {"kind": "python", "source": "print(\"with the site's packages\")", "lacks": "packages", "timeout": "10"},
    ]


# -- expect=: what a python example's output must show ----------------------------------


SITE = ["3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]


def _interpreter(version: str, implementation: str = "CPython") -> engine.Interpreter:
    return engine.Interpreter(f"/p/{version}", version, implementation, "tag")


def test_expectations_select_versions_and_match_lines_or_patterns() -> None:
    clauses = expect.parse(r"True; 3.10-3.11: /^lost \d+ of 10$/; 3.12+: !/lost/; pypy: x: 1", SITE)
    assert [c.words for c in clauses] == [("all",), ("3.10-3.11",), ("3.12+",), ("pypy",)]
    assert clauses[3].line == "x: 1"  # text before a colon that names no runtime is the line
    assert [c.line for c in expect.parse(r"a\; b; c", SITE)] == ["a; b", "c"]  # \; is a semicolon in a clause
    old, new, pypy = _interpreter("3.10.13"), _interpreter("3.13.0"), _interpreter("3.9.16", "PyPy")
    good = [(old, "True\nlost 3 of 10\n"), (new, "  True\n"), (pypy, "True\nx: 1\n")]
    assert expect.problems(clauses, good, [old, new, pypy], [], SITE) == ([], [])
    bad = [(old, "True\nlost 3 of 100\n"), (new, "Truer\nlost 0 of 10\n"), (pypy, "True\nx: 1\n")]
    wrong, _ = expect.problems(clauses, bad, [old, new, pypy], [], SITE)
    assert len(wrong) == 3, wrong
    assert "under CPython 3.10.13 · native: nothing in the output matches /^lost \\d+ of 10$/" in wrong[1]
    assert "under CPython 3.13.0 · native: no line of the output is 'True'" in wrong[0]
    assert "the output matches /lost/" in wrong[2] and "    lost 0 of 10" in wrong[2]


def test_an_expectation_on_a_runtime_that_did_not_run_is_unchecked_or_a_mistake() -> None:
    clauses = expect.parse("3.14: True", SITE)
    new = _interpreter("3.13.0")
    # 3.14 is a runtime of the site this machine lacks: left unchecked, and said so.
    assert expect.problems(clauses, [(new, "False")], [new], ["CPython 3.14"], SITE) == ([], ["3.14: True"])
    # The block does not run under 3.14 at all: the page is wrong.
    wrong, _ = expect.problems(clauses, [(new, "False")], [new], [], SITE)
    assert "names a runtime this block does not run under (it runs 3.13)" in wrong[0]


@pytest.mark.parametrize("written, says", [
    ("", "expect= is empty"),
    ("3.9: True", "3.9 names no version of this site"),
    ("/(/", "is not a regular expression"),
    ("3.12:", "says nothing the output must show"),
])
def test_a_malformed_expectation_is_refused(written: str, says: str) -> None:
    with pytest.raises(engine.EngineError, match=re.escape(says)):
        expect.parse(written, SITE)


NEEDS_3_10_AND_3_11 = pytest.mark.skipif(not {"3.10", "3.11"} <= {i.minor for i in engine.discover()},
                                         reason="needs CPython 3.10 and 3.11 on this machine")


@NEEDS_3_10_AND_3_11
@pytest.mark.parametrize("written, passes", [
    ("3.10: False; 3.11+: True; /^(True|False)$/; !/Traceback/", True),
    ("True", False),
])
def test_an_output_expectation_is_checked_under_each_version(tmp_path: Path, written: str, passes: bool) -> None:
    page = f'# Page\n\n```python versions="all" expect="{written}"\nimport sys\nprint(sys.version_info >= (3, 11))\n```\n'
    done, _ = build(tmp_path, page)
    assert (done.returncode == 0) == passes, done.stderr
    if not passes:
        old = next(i for i in engine.discover() if i.minor == "3.10")
        assert f'docs/index.md:3: expect="True" does not hold under {old.label}: no line of the output is' in done.stderr
        assert "3.11" not in done.stderr.split("does not hold under", 1)[1].split("\n")[0]


@pytest.mark.parametrize("written, says", [
    ("3.10: False", 'expect="3.10: False" names a runtime this block does not run under'),
    ("/[/", 'expect="/[/": /[/ is not a regular expression'),
])
def test_a_wrong_expectation_fails_the_build_naming_page_and_line(tmp_path: Path, written: str, says: str) -> None:
    done, html = build(tmp_path, f'# Page\n\nText.\n\n```python expect="{written}"\nprint(False)\n```\n')
    assert done.returncode != 0
    assert f"docs/index.md:5: {says}" in done.stderr, done.stderr


# -- no build machine in any output -------------------------------------------------------

HOME = str(Path.home())


@pytest.mark.skipif(len(HOME) < 2, reason="the build's home is the root folder")
@pytest.mark.parametrize("fence", [
    f"```python\nprint({HOME + '/notes'!r})\n```\n",
    f"```pycon\n>>> print({HOME + '/notes'!r})\n{HOME}/notes\n```\n",
])
def test_an_output_that_shows_the_build_machines_home_fails_the_build(tmp_path: Path, fence: str) -> None:
    """However an example came to print it, a path of the build machine fails the build."""
    done, _ = build(tmp_path, "# Page\n\n" + fence)
    assert done.returncode != 0
    assert re.search(rf"docs/index\.md:3: (python block|transcript) under .* shows the build machine's path "
                     rf"{re.escape(HOME)}", done.stderr), done.stderr
