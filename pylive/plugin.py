"""The MkDocs plugin: executed fences on pages, rendered with markdown-exec's helpers.

Fences it runs (see CONTRIBUTING.md for every option):

* ```` ```python ```` a program; the page shows its source and everything it wrote;
* ```` ```pycon ```` a REPL transcript; the written outputs are checked, the real ones shown;
* ```` ```build-info ```` a table of the interpreters and machine that built the site;
* ```` ```timeit ```` statements timed with `timeit`, shown as code, chart, table and stamp
  (see `timing.py`).

`versions="all"` runs a block under every CPython of the version matrix, shown as tabs.
`predict="question"` shows a gotcha's code and a question, with the output folded below.
Any fence can opt out with `norun="the reason"`. A failure is a warning (so the strict
build fails) that starts with the page and line of the fence.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import html
import json
import logging
import re
import os
import resource
import platform
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace
from functools import partial
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from markdown import Markdown
from markdown_exec import MarkdownConverter, add_source, code_block, markdown_config, tabbed
from mkdocs.config import config_options
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File
from pymdownx.superfences import highlight_validator

from pylive import changes, engine, expect, fences, links, runtimes, timing, wasm

log = logging.getLogger("mkdocs.plugins.pylive")

SOURCE_PLACES = {"above", "below", "tabbed-left", "tabbed-right", "none"}
OUTPUT_KINDS = {"text", "markdown", "html", "none"}
PYTHON_OPTIONS = {"loc", "source", "versions", "timeout", "returncode", "output", "title", "needs", "changes",
                  "expect", "predict"}
PYCON_OPTIONS = {"loc", "versions", "timeout", "needs", "changes", "predict"}
# What an example may declare it relies on (needs="threads,subprocess"): a runtime that
# lacks it (CPython on WebAssembly) shows that the example was not run there, and why.
NEEDS = {"threads", "subprocess", "sockets", "timing", "cores", "native"}
POLL_SECONDS = 0.1  # how often `make serve` looks for edits (MkDocs: every 0.5 s)
SETTLE_SECONDS = 0.02  # how long it waits for more edits before it rebuilds (MkDocs: 0.1 s)
TIMEIT_OPTIONS = {"loc", "title", "setup", "versions", "budget", "repeat", "number", "expect", "timeout", "needs"}


class _CompiledTemplates(jinja2.BytecodeCache):
    """The theme's templates as compiled by an earlier build of this process. `mkdocs serve`
    makes a new Jinja environment for every rebuild, which would otherwise compile Material's
    templates again each time; Jinja checks each one against its source before using it."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self._code:
            bucket.bytecode_from_string(self._code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


class _ChangesPage(File):
    """The generated page of what changed. MkDocs counts a generated file as always
    modified, so every `--dirty` rebuild would render it again; it is modified only when
    its Markdown (`markdown`, asked when MkDocs asks) differs from what was last rendered."""

    markdown: Callable[[], str]
    rendered: str | None  # None: not in the site yet, or a clean build

    def is_modified(self) -> bool:
        return self.markdown() != self.rendered


def _notebook_title(path: Path) -> str | None:
    """The first heading of a notebook's markdown cells, as mkdocs-jupyter titles its page."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return None
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            source = "".join(cell.get("source", []))
            heading = re.search(r"^#\s+(.+)$", source, re.M)
            if heading:
                return heading[1].strip()
    return None


def _not_run(interpreter: engine.Interpreter, missing: set[str]) -> str:
    """What a runtime's tab says instead of an output it could not produce."""
    return (f'!!! info "Not run on {interpreter.label}"\n\n    This example needs '
            f"{' and '.join(sorted(missing))}, which {interpreter.label} does not have.\n")


def _not_run_on(interpreters: list[engine.Interpreter], needs: set[str]) -> str:
    """One note for the runtimes an example was not run on, under the output the rest shared."""
    missing = sorted(set().union(*(needs & i.lacks for i in interpreters)))
    names = ", ".join(i.label for i in interpreters)
    return (f'!!! info "Not run on {names}"\n\n    This example needs {" and ".join(missing)}, '
            "which these runtimes do not have.\n")


def _not_in_this_build(absent: list[str]) -> str:
    """The note for the runtimes of the site that the machine building this copy lacks."""
    return (f'!!! info "Not run in this build: {", ".join(absent)}"\n\n    The machine that built this copy '
            "of the site has no runtime for them; the published site is built with every one.\n")


def _range_label(interpreters: list[engine.Interpreter]) -> str:
    """`CPython 3.10.13 – 3.15.0rc1 · native and WebAssembly`: who printed one shared output."""
    first, last = interpreters[0], interpreters[-1]
    if len({i.implementation for i in interpreters}) > 1:
        return ", ".join(i.label for i in interpreters)
    platforms = " and ".join(dict.fromkeys(i.platform for i in interpreters))
    return f"{first.implementation} {first.version} – {last.version} · {platforms}"


def _tab_names(interpreters: list[engine.Interpreter]) -> list[str]:
    """Tab labels short enough for six tabs across a phone: `3.14` for CPython and the
    implementation's name for the others (each tab's output names the exact runtime and
    platform); the longer `Interpreter.short` where a short one would be ambiguous."""
    names = [i.minor if i.implementation == "CPython" else i.implementation for i in interpreters]
    return [name if names.count(name) == 1 else i.short for name, i in zip(names, interpreters)]


def _changed_lines(before: str, after: str) -> list[int]:
    """1-based numbers of the lines of `after` that are not in `before` (difflib)."""
    old, new = before.rstrip("\n").split("\n"), after.rstrip("\n").split("\n")
    changed = []
    for tag, _, _, start, end in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag in ("replace", "insert"):
            changed.extend(range(start + 1, end + 1))
    return changed


def _failure_box(messages: list[str]) -> str:
    """An unmistakable error box with the build's messages, shown where the example is
    (`mkdocs serve` keeps serving the page; the strict build fails on the same messages)."""
    return ('<div class="admonition failure pylive-failure"><p class="admonition-title">'
            "This example failed when the site was built</p>"
            f"<pre><code>{html.escape(chr(10).join(messages))}</code></pre></div>\n")


def _predict_problems(inputs: dict[str, str]) -> list[str]:
    """`predict="question"` shows the code and the question, and folds the output below them."""
    if "predict" not in inputs:
        return []
    if not inputs["predict"].strip():
        return ['predict= needs the question the reader answers before unfolding the output, '
                'as in predict="What does the last line print?"']
    if inputs.get("source", "above") != "above":
        return [f'predict= shows the source above the question: it cannot go with source="{inputs["source"]}"']
    if inputs.get("output") == "none":
        return ['predict= folds the output, and output="none" says there is none']
    return []


def _folded(question: str, answer: str) -> str:
    """The question, and what Python printed folded below it: a <details> element, which
    opens with a click, or with Enter or Space on its focused summary."""
    return (f'<p class="pylive-predict"><strong>Predict:</strong> {html.escape(question)}</p>\n'
            '<details class="question pylive-answer">\n<summary>Show what Python printed</summary>\n'
            f"{answer}\n</details>\n")


def _day(when: float) -> str:
    day = datetime.datetime.fromtimestamp(when, datetime.timezone.utc)
    return f"{day:%B} {day.day}, {day.year}"


def page_stamp(produced: dict[str, tuple[engine.Interpreter, float, float]]) -> str:
    """The line under a page that says when its outputs were produced (UTC days; a result
    from the cache keeps the day it was first produced) and by which runtimes."""
    first = min(start for _, start, _ in produced.values())
    last = max(end for _, _, end in produced.values())
    when = f"on {_day(first)}" if _day(first) == _day(last) else f"between {_day(first)} and {_day(last)}"
    runtimes = sorted((interpreter for interpreter, _, _ in produced.values()),
                      key=lambda i: (i.implementation != "CPython", i.implementation, i.version_key, i.platform))
    return (f'\n<p class="pylive-page-stamp" data-search-exclude><small>The outputs on this page were produced {when} (UTC) '
            f"by {html.escape(', '.join(i.label for i in runtimes))}.</small></p>\n")


def _guarded(formatter: Callable[..., str]) -> Callable[..., str]:
    """A fence formatter that never lets an exception reach pymdownx.superfences (which would
    swallow it and print the fence as raw text): bad options and our own errors become a
    warning that starts with the page and line, and an error box on the page."""

    @functools.wraps(formatter)
    def format(self: LivePlugin, src: str, language: str, css_class: str, options: dict, md: Markdown,
               **kwargs: Any) -> str:
        loc = options.get("loc", "?")
        failures: list[str] = []
        options["failures"] = failures
        try:
            if options.get("problems"):
                for problem in options["problems"]:
                    self._warn(failures, loc, problem)
                shown = self._convert(md, code_block(language, src))
            else:
                shown = formatter(self, src, language, css_class, options, md, **kwargs)
        except Exception as error:  # noqa: BLE001 - reported with the page and line, never raised
            self._warn(failures, loc, f"the {language} fence could not be rendered: {type(error).__name__}: {error}")
            shown = self._convert(md, code_block("text", src))
        # str(): markdown-exec returns Markup, which would escape the box added to it.
        return (_failure_box(failures) if failures else "") + str(shown)

    return format


class LivePluginConfig(Config):
    interpreters = config_options.ListOfItems(config_options.Type(str), default=[])
    """Interpreters of the version matrix; empty means: search PATH and pyenv."""
    require_versions = config_options.ListOfItems(config_options.Type(str), default=[])
    """Minor versions (`"3.13"`) the matrix must have, or the build fails."""
    versions = config_options.ListOfItems(config_options.Type(str), default=[])
    """The CPython minors the site shows (`versions="all"`); a build whose machine lacks one
    says so on the pages instead of showing its outputs. Empty: the matrix found."""
    min_version = config_options.Type(str, default="3.10")
    timeout = config_options.Type((int, float), default=10)
    """Seconds an example may run before the build calls it hung."""
    changes_page = config_options.Type(str, default="")
    """Where to generate the page of what changed between versions (e.g. `changes.md`); none if empty."""
    pythonpath = config_options.ListOfItems(config_options.Type(str), default=[])
    """Folders (relative to mkdocs.yml) of helper modules examples may import."""


def _own_cpu() -> float:
    """The CPU seconds of this process so far, every thread of it."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _env_list(name: str, separator: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(separator) if item.strip()]


class LivePlugin(BasePlugin[LivePluginConfig]):
    # `mkdocs serve` keeps this plugin across rebuilds (it has on_startup): what a rebuild
    # may reuse is kept here, what belongs to one build is set in on_config.
    dirty = False  # a --dirty build renders only the pages edited since the last one
    _templates: _CompiledTemplates | None = None
    _changes_rendered: str | None = None  # the Markdown of the what-changed page, as last rendered
    _found: tuple[tuple, list[engine.Interpreter], list[engine.Interpreter]] | None = None

    def on_startup(self, *, command: str, dirty: bool) -> None:
        self.dirty = dirty
        self.changes = changes.Changes()

    def on_config(self, config: Any) -> Any:
        self._rendering = time.thread_time()  # the CPU time of the thread that renders the pages
        self._hosts_cpu = {path: runtime.cpu_seconds() for path, runtime in engine.RUNTIMES.items()}
        self._own_cpu = _own_cpu()
        self._started = time.time()  # a result that finished before this came from the result cache
        self.build_python = engine.build_interpreter()
        explicit = _env_list("PYLIVE_INTERPRETERS", os.pathsep) or self.config.interpreters
        # Finding the interpreters probes each one and starts the WebAssembly runtimes
        # (seconds): a rebuild of `mkdocs serve` reuses them unless what decides them changed.
        root = Path(config["config_file_path"]).resolve().parent
        wanted = (tuple(explicit), self.config.min_version, root, os.environ.get("PYLIVE_WASM"))
        if self._found is None or self._found[0] != wanted:
            try:
                matrix = runtimes.version_matrix(explicit, self.config.min_version, root)
                others = [] if explicit else runtimes.other_implementations(root)  # when named
            except engine.EngineError as error:
                raise PluginError(str(error)) from error
            self._found = (wanted, matrix, others)
            log.info("pylive: runtimes: " + ", ".join(i.label for i in [*matrix, *others]))
        self.matrix, self.others = self._found[1], self._found[2]
        self.default_python = engine.newest_native(self.matrix)  # for blocks that name no version
        required = _env_list("PYLIVE_REQUIRE_VERSIONS", ",") or self.config.require_versions
        have = {i.minor for i in self.matrix} | {i.implementation.lower() for i in self.others}
        missing = [name for name in required if name not in have]
        if missing:
            raise PluginError(
                f"the build needs {', '.join(missing)}, which this machine does not have (native CPythons: "
                "set PYLIVE_INTERPRETERS to their paths, separated by ':'; 3.14 and 3.15 on WebAssembly: "
                "install Node and run npm ci; pypy, jython: install Debian's pypy3 and jython; micropython: npm ci)"
            )
        lacking = [f"CPython {minor}" for minor in self.config.versions if minor not in have]
        lacking += [name for word, name in engine.OTHER_IMPLEMENTATIONS.items() if word not in have]
        if lacking:
            log.info(f"pylive: this machine has no runtime for {', '.join(lacking)}; the pages that would show "
                     "their outputs say they were not run in this build")
        self.base_dir = Path(config["config_file_path"]).parent
        engine.HELPER_PATH[:] = [str((self.base_dir / p).resolve()) for p in self.config.pythonpath]
        if str(self.base_dir.resolve()) not in engine.PROTECTED:  # examples never write the site's folder
            engine.PROTECTED.append(str(self.base_dir.resolve()))
        # PYLIVE_EXECUTE=0 shows every example's source and runs none: only for measuring
        # what the rest of the build costs (scripts/bench_build.py); never for publishing.
        self.execute = os.environ.get("PYLIVE_EXECUTE", "1") != "0"
        self.examples_run = 0
        engine.early.taken = 0  # counted per build: `mkdocs serve` builds again in the same process
        self._nested = 0
        self._bodies: dict[str, str] = {}  # "docs/page.md:LINE" -> the fence's text on the page
        self.links = links.LinkChecker()
        if not self.dirty or not hasattr(self, "changes"):
            self.changes = changes.Changes()  # a --dirty rebuild updates the edited pages' entries only
        self._pages: dict[str, tuple[str, list[tuple[int, str]]]] = {}  # "docs/x.md" -> title, headings
        # "docs/x.md" -> {runtime's label: (runtime, when its first and last output there was produced)}
        self._produced: dict[str, dict[str, tuple[engine.Interpreter, float, float]]] = {}
        self.seconds_running = 0.0
        self.from_cache = 0  # results of an earlier build (PYLIVE_CACHE), not run again
        self.seconds_by_kind: dict[str, float] = {}  # native, WebAssembly, timings: where the time goes
        self.cpu_by_kind: dict[str, float] = {}  # the same in CPU seconds, as the sandboxes measured them
        self.cpu_unmeasured = 0  # runs whose sandbox could not measure their CPU (the fallback sandbox)
        superfences = config["mdx_configs"].setdefault("pymdownx.superfences", {})
        custom = superfences.setdefault("custom_fences", [])
        custom[:] = [f for f in custom if f.get("class") != "pylive"]
        for name, validator, formatter in (
            ("*", self._validate_other, self._format_other),
            ("python", self._validate_python, self._format_python),
            ("py", self._validate_python, self._format_python),
            ("pycon", self._validate_pycon, self._format_pycon),
            ("build-info", self._validate_build_info, self._format_build_info),
            ("timeit", self._validate_timeit, self._format_timeit),
        ):
            custom.append({"name": name, "class": "pylive", "validator": validator, "format": formatter})
        # markdown-exec renders our outputs with the site's own Markdown extensions.
        markdown_config.save(config["markdown_extensions"], config["mdx_configs"])
        return config

    def on_files(self, files: Any, config: Any) -> Any:
        """Start every example of the site at once, on every core, before any page renders
        (a page then takes its finished result; see engine._EarlyStart), in the order the
        pages are read, so that the first pages find theirs done first. Fences that include
        snippet files run when their page renders, once the includes are expanded.
        The generated page of what changed between versions comes last, so that it is read
        when every other page has run its examples."""
        if self.config.changes_page:
            page = _ChangesPage.generated(config, self.config.changes_page, content="")
            page.markdown = self.changes.markdown
            page.rendered = self._changes_rendered if self.dirty else None
            files.append(page)
        if not self.execute:
            return files
        included = self._snippets(config)
        runs: list[tuple[Callable[..., Any], str]] = []  # start(place=...), place
        for file in files.documentation_pages():
            if not file.src_uri.endswith(".md") or self.dirty and not file.is_modified():
                continue
            for fence in fences.scan(file.content_string):
                if not fence.runs or fences.missing_includes(fence, self.base_dir):
                    continue  # a missing include is reported with its page and line when the page renders
                runs += self._early_runs(replace(fence, body=included(fence.body)) if fence.includes else fence)
        # What measures work on several cores first, while nothing else runs; then the rest.
        wait([f for f in (start(place=place) for start, place in runs if place == "alone") if f])
        for start, place in runs:
            if place != "alone":
                start(place=place)
        return files

    def _early_runs(self, fence: fences.Fence) -> list[tuple[Callable[..., Any], str]]:
        """The runs a fence will ask for when its page renders, each as a function that starts
        it and the place it runs (engine.place_of); none if the fence's options are wrong (the
        page reports that, with its line)."""
        needs = engine.needs_of(fence.options)
        if fence.lang == "timeit":
            place = engine.place_of(needs | {"timing"})  # a timeit block measures time
            return [(partial(engine.early.start, timing.measure_settled, *measurement), place)
                    for measurement in self._early_timings(fence.body, fence.options)]
        if fence.lang not in ("python", "py", "pycon"):
            return []
        try:
            timeout = float(fence.options.get("timeout", self.config.timeout))
            code = engine.parse_transcript(fence.body) if fence.lang == "pycon" else fence.body
        except (ValueError, engine.EngineError):
            return []
        start = engine.start_transcript if fence.lang == "pycon" else engine.start_script
        return [(partial(start, code, interpreter, timeout), engine.place_of(needs))
                for interpreter in self._choose(fence.options.get("versions", "")).interpreters
                if not needs & interpreter.lacks]

    @staticmethod
    def _snippets(config: Any) -> Callable[[str], str]:
        """A fence body with its `--8<--` includes expanded as pymdownx.snippets expands them
        on the page (with the site's settings, but not what they append to every page)."""
        settings = {**config["mdx_configs"].get("pymdownx.snippets", {}), "auto_append": []}

        @functools.cache
        def preprocessor() -> Any:  # made when a fence first includes something
            md = Markdown(extensions=["pymdownx.snippets"], extension_configs={"pymdownx.snippets": settings})
            return md.preprocessors["snippet"]

        return lambda body: "\n".join(preprocessor().run(body.split("\n")))

    def on_env(self, env: Any, config: Any, files: Any) -> Any:
        """A `--dirty` rebuild reads only the edited pages; read the others' sources too, so
        that the navigation and footer name them instead of showing "None". Templates
        compiled by an earlier build of this process are used again."""
        if self._templates is None:
            self._templates = _CompiledTemplates()
        env.bytecode_cache = self._templates
        for file in files.documentation_pages():
            page = file.page
            if page is None or page.markdown is not None:
                continue
            if file.src_uri.endswith(".md"):
                page.read_source(config)
            elif file.src_uri.endswith(".ipynb") and page.title is None:
                page.title = _notebook_title(Path(file.abs_src_path)) or file.name
        return env

    def on_page_read_source(self, page: Any, config: Any) -> str | None:
        if self.config.changes_page and page.file.src_uri == self.config.changes_page:
            return self.changes.markdown()
        return None

    def on_page_markdown(self, markdown: str, page: Any, config: Any, files: Any) -> str:
        where = f"docs/{page.file.src_uri}"
        headings, inside = [], False
        for number, text in enumerate(markdown.split("\n"), start=links.first_line_of(markdown, page.file.content_string)):
            inside = inside != text.lstrip().startswith(("```", "~~~"))
            if not inside and re.match(r"#{2,3} ", text):
                headings.append((number, text.lstrip("#").strip()))
        self._pages[where] = (page.title or page.file.src_uri, headings)
        self.changes.forget(page.file.src_uri)
        source = page.file.content_string
        first_line = links.first_line_of(markdown, source)
        self.links.page_markdown(page.file.src_uri, markdown, source, files)
        scanned = fences.scan(markdown, first_line)
        for fence in scanned:
            if not fence.closed:
                log.warning(f"{where}:{fence.line}: this fence is never closed: close it (until then the rest of "
                            "the page is code, and no example after it runs)")
        for fence in fences.unaccounted(markdown, first_line):
            log.warning(
                f'{where}:{fence.line}: a ```{fence.lang or "(no language)"} fence is neither run nor '
                'marked norun="reason"'
            )
        # A missing include is reported here, with its line, and taken out of the page: left
        # in, pymdownx.snippets would stop the build with a traceback that names no line.
        lines = markdown.split("\n")
        for index, problem in fences.broken_includes(markdown, self.base_dir):
            log.warning(f"{where}:{index + first_line}: {problem}")
            lines[index] = lines[index].replace("--8<--", "(missing include)")
        self._bodies.update((f"{where}:{f.line}", f.body.rstrip("\n")) for f in scanned)
        return fences.annotate("\n".join(lines), where, first_line)

    def on_page_content(self, html: str, page: Any, config: Any, files: Any) -> str:
        self.links.page_content(page.file.src_uri, html)
        produced = self._produced.pop(f"docs/{page.file.src_uri}", None)
        return html + page_stamp(produced) if produced else html

    def _note_produced(self, loc: str, runs: Any) -> None:
        """Remember which runtimes produced a page's outputs, and when (see page_stamp)."""
        page = loc.rpartition(":")[0]
        seen = self._produced.setdefault(page, {})
        for interpreter, run in runs:
            if not run.finished:
                continue
            _, first, last = seen.get(interpreter.label, (interpreter, run.finished, run.finished))
            seen[interpreter.label] = (interpreter, min(first, run.finished), max(last, run.finished))

    def on_post_build(self, config: Any) -> None:
        self._changes_rendered = self.changes.markdown()  # the page as this build left it in the site
        # MkDocs names a page with a broken link or anchor; these say which line.
        for problem in self.links.problems():
            log.warning(str(problem))
        log.info(
            f"pylive: ran {self.examples_run} examples ({engine.early.taken} started early"
            + (f"; {self.from_cache} from the result cache, not run again" if self.from_cache else "")
            + f") in {self.seconds_running:.1f} s of run time, several at once ("
            + ", ".join(f"{kind} {seconds:.1f} s" for kind, seconds in sorted(self.seconds_by_kind.items()))
            + "); CPU time: " + self._cpu_summary()
        )

    def _cpu_summary(self) -> str:
        """The CPU seconds this build used, by kind: examples as their sandboxes measured
        them, the WebAssembly hosts since this build started (starting them too, in the
        first build), and this process."""
        parts = [f"{kind} {seconds:.1f} s" for kind, seconds in sorted(self.cpu_by_kind.items())]
        hosts = sum(runtime.cpu_seconds() - self._hosts_cpu.get(path, 0.0) for path, runtime in engine.RUNTIMES.items())
        if hosts:
            parts.append(f"WebAssembly hosts {hosts:.1f} s")
        parts.append(f"the build's own threads {_own_cpu() - self._own_cpu:.1f} s"
                     f" (the rendering thread {time.thread_time() - self._rendering:.1f} s)")
        unmeasured = f" ({self.cpu_unmeasured} runs in the fallback sandbox not measured)" if self.cpu_unmeasured else ""
        return ", ".join(parts) + unmeasured

    def on_serve(self, server: Any, config: Any, builder: Any) -> Any:
        """MkDocs' server notices an edit by polling the watched folders (inotify does not
        work on every file system) every half second: on average a quarter of a second, and
        up to half a second, before the rebuild starts, as long as the rebuild itself. It
        polls every POLL_SECONDS instead; a poll of docs/, snippets/ and pylive/ costs under
        a millisecond of CPU. (watchdog sets the interval when it makes an observer or an
        emitter, and has no setter for it.)

        After an edit is seen, the server waits until no other has come for a while before
        it rebuilds: an editor's save is seen whole by one poll, so SETTLE_SECONDS is enough
        (an edit still being written when the rebuild starts is seen by the next poll, and
        rebuilt again)."""
        server.build_delay = SETTLE_SECONDS
        server.observer._timeout = POLL_SECONDS  # for the folders watched after this
        for emitter in server.observer.emitters:
            emitter._timeout = POLL_SECONDS
        return server

    def on_shutdown(self) -> None:
        runtimes.close()

    def _convert(self, md: Markdown, text: str, stash: dict[str, str] | None = None) -> str:
        """Render generated Markdown; the code blocks in it are only highlighted, never run.
        `stash` maps placeholders to HTML put in after conversion (a chart's SVG)."""
        self._nested += 1
        try:
            return MarkdownConverter(md, update_toc=False).convert(text, stash)
        finally:
            self._nested -= 1

    # -- options ---------------------------------------------------------------------

    @staticmethod
    def _problems(language: str, inputs: dict[str, str], allowed: set[str]) -> list[str]:
        """What is wrong with a fence's options, each said so that the writer can fix it."""
        problems = []
        unknown = sorted(set(inputs) - allowed)
        if unknown:
            problems.append(f"unknown option(s) {', '.join(unknown)} on a {language} fence "
                            f"(it takes {', '.join(sorted(allowed - {'loc'}))})")
        needs = engine.needs_of(inputs)
        if needs - NEEDS:
            problems.append(f"needs= takes {', '.join(sorted(NEEDS))}, not {', '.join(sorted(needs - NEEDS))}")
        for name, kind in (("timeout", float), ("returncode", int), ("budget", float), ("repeat", int), ("number", int)):
            if name in inputs and name in allowed:
                try:
                    value = kind(inputs[name])
                except ValueError:
                    problems.append(f"{name}= takes {'a whole number' if kind is int else 'a number'}, not {inputs[name]!r}")
                    continue
                least = timing.MIN_REPEAT if name == "repeat" else 1
                if name in ("timeout", "budget") and value <= 0 or name in ("repeat", "number") and value < least:
                    problems.append(f"{name}= must be {'positive' if kind is float else f'at least {least}'}, "
                                    f"not {inputs[name]!r}" + (" (a minimum and a spread need that many)"
                                                               if name == "repeat" else ""))
        return problems

    def _warn(self, failures: list[str] | None, loc: str, message: str) -> None:
        """A warning (the strict build fails on it) that starts with the page and line."""
        text = f"{loc}: {message}"
        log.warning(text)
        if failures is not None:
            failures.append(text)

    def _page_line(self, loc: str, src: str, line_in_block: int | None) -> str:
        """`docs/page.md:LINE` for a line of a fence's body, when the page's text of the fence
        is the code that ran (no includes); otherwise the fence's own line."""
        page, _, first = loc.rpartition(":")
        if line_in_block is None or not first.isdigit() or self._bodies.get(loc) != src.rstrip("\n"):
            return loc
        return f"{page}:{int(first) + line_in_block}"

    def _choose(self, versions: str) -> engine.Choice:
        return engine.choose(versions, self.matrix, self.default_python, self.others, self.config.versions)

    def _runtime_options(self, inputs: dict[str, str], problems: list[str]) -> dict[str, Any]:
        """versions= and changes=: the interpreters this machine has of those a block names,
        and the runtimes of the site it lacks (the page says the block was not run there)."""
        choice = self._choose(inputs.get("versions", ""))
        site = self.config.versions or [i.minor for i in self.matrix]
        if choice.unknown:
            known = ", ".join([*site, *engine.OTHER_IMPLEMENTATIONS])
            problems.append(f"versions= names {', '.join(choice.unknown)}, which is not a runtime of this site "
                            f"(it has {known}, and all)")
        declared = inputs.get("changes", "none").strip()
        strays = [] if declared == "none" else [v.strip() for v in declared.split(",") if v.strip() not in site]
        if strays:
            problems.append(f'changes= takes "none" or versions of this site ({", ".join(site)}), not {", ".join(strays)}')
        # versions="build": the build's own interpreter, with the site's packages.
        site_packages = "build" in (word.strip() for word in inputs.get("versions", "").split(","))
        return {"interpreters": choice.interpreters, "absent": choice.absent, "site_packages": site_packages}

    def _validate_python(self, language: str, inputs: dict[str, str], options: dict, attrs: dict, md: Markdown) -> bool:
        if self._nested or "norun" in inputs:
            return False
        problems = self._problems(language, inputs, PYTHON_OPTIONS)
        chosen = self._runtime_options(inputs, problems)
        source = inputs.get("source", "above")
        output = inputs.get("output", "text")
        if source not in SOURCE_PLACES:
            problems.append(f"source= takes {', '.join(sorted(SOURCE_PLACES))}, not {source!r}")
        if output not in OUTPUT_KINDS:
            problems.append(f"output= takes {', '.join(sorted(OUTPUT_KINDS))}, not {output!r}")
        problems += _predict_problems(inputs)
        expectations = self._expectations(inputs, problems)
        options.update(loc=inputs.get("loc", "?"), problems=problems, needs=engine.needs_of(inputs), changes=inputs.get("changes"))
        if not problems:
            options.update(
                expect=expectations,
                source=source,
                output=output,
                title=inputs.get("title", ""),
                predict=inputs.get("predict", ""),
                **chosen,
                timeout=float(inputs.get("timeout", self.config.timeout)),
                returncode=int(inputs.get("returncode", "0")),
            )
        return True  # a bad fence is still ours: it renders as an error, never as raw text

    def _expectations(self, inputs: dict[str, str], problems: list[str]) -> list[expect.Expectation]:
        """A python fence's `expect=`: what its outputs must show (see expect.py)."""
        if "expect" not in inputs:
            return []
        try:
            return expect.parse(inputs["expect"], self.config.versions or [i.minor for i in self.matrix])
        except engine.EngineError as error:
            problems.append(str(error))
            return []

    def _check_expectations(self, results: list[tuple[engine.Interpreter, str | None]], options: dict) -> None:
        """The outputs against the fence's `expect=`: a contradiction fails the build; a clause
        whose runtimes did not run here is left unchecked, and the log says so."""
        if not options["expect"]:
            return
        ran = [(interpreter, output) for interpreter, output in results if output is not None]
        wrong, unchecked = expect.problems(options["expect"], ran, options["interpreters"], options["absent"],
                                           self.config.versions or [i.minor for i in self.matrix])
        for problem in wrong:
            self._warn(options["failures"], options["loc"], problem)
        if unchecked:
            log.info(f"{options['loc']}: expect= not checked in this build, whose runtimes for it did not run "
                     f"the example: {'; '.join(unchecked)}")

    def _validate_pycon(self, language: str, inputs: dict[str, str], options: dict, attrs: dict, md: Markdown) -> bool:
        if self._nested or "norun" in inputs:
            return False
        problems = self._problems(language, inputs, PYCON_OPTIONS)
        chosen = self._runtime_options(inputs, problems)
        problems += _predict_problems(inputs)
        options.update(loc=inputs.get("loc", "?"), problems=problems, needs=engine.needs_of(inputs), changes=inputs.get("changes"))
        if not problems:
            options.update(
                **chosen,
                predict=inputs.get("predict", ""),
                timeout=float(inputs.get("timeout", self.config.timeout)),
            )
        return True

    def _validate_build_info(self, language: str, inputs: dict[str, str], options: dict, attrs: dict, md: Markdown) -> bool:
        return not self._nested

    def _validate_timeit(self, language: str, inputs: dict[str, str], options: dict, attrs: dict, md: Markdown) -> bool:
        if self._nested or "norun" in inputs:
            return False
        problems = self._problems(language, inputs, TIMEIT_OPTIONS)
        options.update(loc=inputs.get("loc", "?"), problems=problems, needs=engine.needs_of(inputs), changes=inputs.get("changes"))
        chosen = self._timeit_options(inputs, problems)
        if not problems:
            options.update(chosen)
        return True

    def _timeit_options(self, inputs: dict[str, str], problems: list[str]) -> dict[str, Any]:
        """A timeit fence's options, once `problems` (from `_problems`) found none."""
        chosen = self._runtime_options(inputs, problems)
        if problems:
            return {}
        return dict(
            title=inputs.get("title", ""),
            setup=inputs.get("setup", ""),
            expect=inputs.get("expect", ""),
            **chosen,
            budget=float(inputs.get("budget", timing.DEFAULT_BUDGET)),
            repeat=int(inputs.get("repeat", timing.DEFAULT_REPEAT)),
            number=int(inputs["number"]) if "number" in inputs else None,
            timeout=float(inputs.get("timeout", self.config.timeout)),
        )

    def _early_timings(self, src: str, inputs: dict[str, str]) -> list[tuple[Any, ...]]:
        """`_timings` of a fence found before its page renders; none if its options are
        wrong (the page reports that, with its line)."""
        problems = self._problems("timeit", inputs, TIMEIT_OPTIONS)
        options = self._timeit_options(inputs, problems)
        try:
            return [] if problems else self._timings(timing.parse(src, options["setup"]), options)
        except engine.EngineError:
            return []

    def _measure(self, plan: timing.Plan, options: dict, quick: bool | None = None) -> list[tuple[engine.Interpreter, Any]]:
        """A timeit fence's measurement under each interpreter that times it (a failed one
        is reported with the fence's line), on the quiet core, one interpreter at a time,
        most of them started with the examples; `quick`: see timing.measure."""
        runs = []
        for measurement in self._timings(plan, options):
            interpreter = measurement[1]
            place = engine.place_of(options["needs"] | {"timing"})
            arguments = measurement if quick is None else (*measurement, quick)  # None: as started early
            run, reused = engine.early.take(timing.measure_settled, *arguments, place=place)
            if not reused:
                self.examples_run += 1
                self._spent("timings", run)
            what = f"timeit block under {interpreter.label}"
            if run.timed_out:
                self._warn(options["failures"], options["loc"],
                           f"{what} did not finish within {options['timeout']:g} s (timeout=)")
            elif not run.succeeded:
                self._warn(options["failures"], options["loc"], f"{what} failed (exit code {run.returncode}): {run.output}")
            else:
                runs.append((interpreter, run))
        return runs

    @staticmethod
    def _timings(plan: timing.Plan, options: dict) -> list[tuple[Any, ...]]:
        """The arguments of timing.measure_settled for each interpreter that times a timeit
        fence: not those on WebAssembly, whose timings say nothing of a native interpreter."""
        timed = [i for i in options["interpreters"] if "timing" not in i.lacks]
        budget = timing.share(options["budget"], len(timed), len(plan.statements))
        return [(plan, i, budget, options["repeat"], options["number"], options["timeout"]) for i in timed]

    def _validate_other(self, language: str, inputs: dict[str, str], options: dict, attrs: dict, md: Markdown) -> bool:
        """Every fence the engine does not run: check its `norun` reason, then highlight it
        as pymdownx.superfences would (a `*` fence replaces superfences' default one)."""
        reason = inputs.pop("norun", None)
        loc = inputs.pop("loc", "?")
        if reason is not None and not reason.strip():
            self._warn(loc, 'norun needs a reason, as in norun="starts a server"')
        return highlight_validator(language, inputs, options, attrs, md)

    # -- rendering -------------------------------------------------------------------

    def _run_all(self, run: Any, interpreters: list[engine.Interpreter]) -> list[Any]:
        with ThreadPoolExecutor(max_workers=max(1, min(len(interpreters), os.cpu_count() or 1))) as pool:
            results = list(pool.map(run, interpreters))
        self.examples_run += len(results)
        for interpreter, result in zip(interpreters, results):
            self._spent(interpreter.platform, result)
        return results

    def _spent(self, kind: str, result: Any) -> None:
        """Count the time a result took, unless it came from the result cache."""
        if 0 < getattr(result, "finished", 0) < self._started:
            self.from_cache += 1
            return
        seconds = getattr(result, "seconds", 0.0)
        self.seconds_running += seconds
        self.seconds_by_kind[kind] = self.seconds_by_kind.get(kind, 0.0) + seconds
        cpu = getattr(result, "cpu", None)
        if cpu is not None:
            self.cpu_by_kind[kind] = self.cpu_by_kind.get(kind, 0.0) + cpu
        elif kind != wasm.WasmInterpreter.platform:  # counted by its host instead
            self.cpu_unmeasured += 1

    def _versions_view(self, results: list[tuple[engine.Interpreter, str | None]], options: dict,
                       render: Callable[[str, str, list[int]], str]) -> str:
        """The outputs of one example under each runtime (None: not run there, for want of
        `needs`), and a note naming the runtimes of the site this build lacks.
        `render(label, output, changed lines)` draws one output. When every runtime
        printed the same, one output labelled with the range of versions; otherwise tabs,
        newest first (what a reader most likely runs), each marking the lines that changed
        from the version before it, which is the tab after it."""
        view = self._outputs_view(results, options, render)
        if options.get("absent"):
            view = (view + "\n\n" if view else "") + _not_in_this_build(options["absent"])
        return view

    def _outputs_view(self, results: list[tuple[engine.Interpreter, str | None]], options: dict,
                      render: Callable[[str, str, list[int]], str]) -> str:
        if not results:
            return ""
        results = sorted(results, key=lambda result: result[0].version_key)
        ran = [(interpreter, output) for interpreter, output in results if output is not None]
        self._check_changes(ran, options)
        page, _, line = options["loc"].rpartition(":")
        if page in self._pages and line.isdigit():
            title, headings = self._pages[page]
            section = next((text for number, text in reversed(headings) if number < int(line)), "")
            self.changes.record(page.removeprefix("docs/"), title, section, int(line), ran)
        if len(results) > 1 and ran and len({output for _, output in ran}) == 1:
            shown = render(_range_label([interpreter for interpreter, _ in ran]), ran[0][1], [])
            missed = [interpreter for interpreter, output in results if output is None]
            if len(ran) > 1 and missed:
                return shown + "\n\n" + _not_run_on(missed, options["needs"])
            if len(ran) > 1:
                return shown
        tabs, previous = [], None
        names = _tab_names([interpreter for interpreter, _ in results])
        for (interpreter, output), name in zip(results, names):  # oldest first: each is compared with the one before
            if output is None:
                tabs.append((name, _not_run(interpreter, options["needs"] & interpreter.lacks)))
                continue
            changed = _changed_lines(previous, output) if previous is not None else []
            tabs.append((name, render(interpreter.label, output, changed)))
            previous = output
        if len(tabs) == 1:
            return tabs[0][1]
        note = ('!!! info "The output differs between versions"\n\n    Newest first. In each tab, the lines '
                "that changed from the version before it are highlighted.")
        return f"{note}\n\n{tabbed(*reversed(tabs))}"

    def _check_changes(self, ran: list[tuple[engine.Interpreter, str]], options: dict) -> None:
        """`changes="3.11,3.13"`: the versions whose output differs from the version before
        them, as the prose says; `changes="none"`: the same output everywhere. Checked both
        ways: a stated change that is not there fails, and so does one the prose does not state.
        Only versions that ran next to the version before them can be checked: a build that
        lacks a runtime leaves the changes at its versions unchecked, and says so in its log."""
        declared = options.get("changes")
        if declared is None:
            return
        order = self.config.versions or [i.minor for i in self.matrix]
        pairs = [(later.minor, before != after) for (earlier, before), (later, after) in zip(ran, ran[1:])
                 if earlier.minor in order and later.minor in order
                 and order.index(later.minor) == order.index(earlier.minor) + 1]
        checkable = {minor for minor, _ in pairs}
        found = [minor for minor, differs in pairs if differs]
        stated = [] if declared.strip() == "none" else [v.strip() for v in declared.split(",") if v.strip()]
        unchecked = [v for v in stated if v not in checkable]
        if unchecked:
            log.info(f"{options['loc']}: changes= at {', '.join(unchecked)} not checked in this build, which has "
                     "no outputs of those versions and the ones before them to compare")
        if [v for v in stated if v in checkable] != found:
            self._warn(options["failures"], options["loc"],
                       f'the output changes at {", ".join(found) or "no version"}, but changes="{declared}" says '
                       f'{", ".join(stated) or "none"}: correct the prose and the option')

    @_guarded
    def _format_python(self, src: str, language: str, css_class: str, options: dict, md: Markdown, **kwargs: Any) -> str:
        if not self.execute:
            return self._runnable(self._convert(md, code_block("python", src)), "python", src, options)
        interpreters = [i for i in options["interpreters"] if not options["needs"] & i.lacks]
        runs = self._run_all(partial(self._run_python_block, src, options), interpreters)
        self._note_produced(options["loc"], zip(interpreters, runs))
        results: list[tuple[engine.Interpreter, str | None]] = [(i, r.output) for i, r in zip(interpreters, runs)]
        results += [(i, None) for i in options["interpreters"] if options["needs"] & i.lacks]
        self._check_expectations(results, options)

        def render(label: str, output: str, changed: list[int]) -> str:
            if options["output"] in ("markdown", "html"):
                return f"{output}\n\n<small class=\"pylive-stamp\">Output · {label}</small>"
            marks = {"hl_lines": " ".join(map(str, changed))} if changed else {}
            return code_block("text", output.rstrip("\n") or "(no output)", title=f"Output · {label}", **marks)

        view = self._versions_view(results, options, render)
        extra = {"title": options["title"]} if options["title"] else {}
        if options["predict"]:
            shown = add_source(source=src, location="above", output="", language="python", tabs=("Source", "Output"), **extra)
            folded = str(self._convert(md, shown)) + _folded(options["predict"], str(self._convert(md, view)))
            return self._runnable(folded, "python", src, options)
        if options["source"] != "none":
            view = add_source(source=src, location=options["source"], output=view, language="python",
                              tabs=("Source", "Output"), **extra)
        return self._runnable(self._convert(md, view), "python", src, options)

    def _runnable(self, shown: str, kind: str, source: str, options: dict) -> str:
        """A rendered example, marked for the reader's own run of it in the browser
        (docs/assets/live/live.js): the exact code that ran (of a transcript, its typed lines),
        what it needs that CPython on WebAssembly lacks (the browser then says so instead of
        running it; versions="build" relies on the site's own packages),
        how its output is shown, and its timeout."""
        lacks = options["needs"] & wasm.WasmInterpreter.lacks | ({"packages"} if options["site_packages"] else set())
        marks = {
            "kind": kind,
            "source": source,
            "lacks": ",".join(sorted(lacks)),
            "output": "" if options.get("output", "text") == "text" else options["output"],
            "timeout": f"{options['timeout']:g}",
        }
        attributes = " ".join(f'data-pylive-{name}="{html.escape(value)}"' for name, value in marks.items() if value)
        return f'<div class="pylive-live" {attributes}>\n{shown}\n</div>'

    def _run_python_block(self, src: str, options: dict, interpreter: engine.Interpreter) -> engine.Run:
        run = engine.run_script(src, interpreter, options["timeout"], place=engine.place_of(options["needs"]))
        what = f"python block under {interpreter.label}"
        loc, failures = options["loc"], options["failures"]
        if run.timed_out:
            self._warn(failures, loc, f"{what} did not finish within {options['timeout']:g} s: make it quicker, "
                                      "or give it more time with timeout=")
        elif run.flooded:
            self._warn(failures, loc, f"{what} wrote more than {engine.LIMITS.output // 1024} KB: print less")
        elif run.returncode != options["returncode"] and interpreter.lacks and wasm.lacking(run.output):
            need = wasm.lacking(run.output)
            self._warn(failures, loc, f"{what} failed for want of {need}: if the example relies on it, "
                                      f'say so with needs="{need}" (that runtime then shows it was not run)')
        elif run.returncode != options["returncode"]:
            lines = run.output.rstrip("\n").split("\n")
            at = [int(m[1]) for m in re.finditer(r'File "[^"\n]*example\.py", line (\d+)', run.output)]
            where = self._page_line(loc, src, at[-1] if at else None)
            self._warn(failures, where, f"{what} exited with code {run.returncode}, expected {options['returncode']}: "
                                        f"{lines[-1]}\n{run.output}")
        elif not run.output.strip() and options["output"] != "none":
            self._warn(failures, loc, f'{what} printed nothing: show what it does, or say output="none"')
        for path in engine.machine_paths(run.output):
            self._warn(failures, loc, f"{what} shows the build machine's path {path}: print a relative path")
        return run

    @_guarded
    def _format_pycon(self, src: str, language: str, css_class: str, options: dict, md: Markdown, **kwargs: Any) -> str:
        loc, failures = options["loc"], options["failures"]
        try:
            statements = engine.parse_transcript(src)
        except engine.EngineError as error:
            self._warn(failures, loc, str(error))
            return self._convert(md, code_block("pycon", src))
        typed = "\n".join(statement.typed for statement in statements)
        if not self.execute:
            return self._runnable(self._convert(md, code_block("pycon", src)), "pycon", typed, options)
        interpreters = [i for i in options["interpreters"] if not options["needs"] & i.lacks]
        runs = self._run_all(partial(engine.run_transcript, statements, timeout=options["timeout"],
                                     place=engine.place_of(options["needs"])), interpreters)
        self._note_produced(options["loc"], zip(interpreters, runs))
        results: list[tuple[engine.Interpreter, str | None]] = []
        for interpreter, run in zip(interpreters, runs):
            what = f"transcript under {interpreter.label}"
            if run.timed_out:
                hung = statements[len(run.outputs)] if len(run.outputs) < len(statements) else statements[-1]
                self._warn(failures, self._page_line(loc, src, hung.line),
                           f"{what}: this statement did not finish within {options['timeout']:g} s")
            elif run.error:
                self._warn(failures, loc, f"{what} could not run: {run.error}")
            elif len(run.outputs) != len(statements):
                self._warn(failures, loc, f"{what} reported {len(run.outputs)} of {len(statements)} statements")
            for statement, problem in engine.mismatches(statements, run):
                self._warn(failures, self._page_line(loc, src, statement.line),
                           f"{what}: the written output is not what Python printed: {problem}")
            for path in engine.machine_paths("".join(run.outputs)):
                self._warn(failures, loc, f"{what} shows the build machine's path {path}: print a relative path")
            shown = "".join(s.typed + "\n" + out for s, out in zip(statements, run.outputs))
            results.append((interpreter, shown.rstrip("\n")))
        for statement, problem in engine.ellipsis_problems(statements, runs):
            self._warn(failures, self._page_line(loc, src, statement.line), f"transcript: {problem}")
        results += [(i, None) for i in options["interpreters"] if options["needs"] & i.lacks]

        def render(label: str, shown: str, changed: list[int]) -> str:
            marks = {"hl_lines": " ".join(map(str, changed))} if changed else {}
            return code_block("pycon", shown, title=f"REPL · {label}", **marks)

        view = self._convert(md, self._versions_view(results, options, render))
        if options["predict"]:  # what is typed, without the answers the page's source writes below it
            view = str(self._convert(md, code_block("pycon", typed))) + _folded(options["predict"], str(view))
        return self._runnable(view, "pycon", typed, options)

    @_guarded
    def _format_build_info(self, src: str, language: str, css_class: str, options: dict, md: Markdown, **kwargs: Any) -> str:
        matrix = ", ".join(i.label for i in self.matrix)
        rows = [
            ("Built with", self.build_python.label),
            ("Version matrix", matrix),
            ("Platform", platform.platform()),
            ("Machine", f"{platform.machine()}, {os.cpu_count()} cores"),
            ("Built on", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ]
        table = "| This site was built | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
        return self._convert(md, table)

    @_guarded
    def _format_timeit(self, src: str, language: str, css_class: str, options: dict, md: Markdown, **kwargs: Any) -> str:
        if not self.execute:
            return self._convert(md, code_block("text", src))
        loc = options["loc"]
        try:
            plan = timing.parse(src, options["setup"])
        except engine.EngineError as error:
            self._warn(options["failures"], loc, str(error))
            return self._convert(md, code_block("text", src))
        # Timings are measured only where they mean something (not on WebAssembly).
        untimed = [i for i in options["interpreters"] if "timing" in i.lacks]
        runs = self._measure(plan, options)
        if any(run.quick for _, run in runs) and timing.contradictions(options["expect"], timing.measurements(runs)):
            # A rough figure of quick mode (make serve) contradicts what the page says: it
            # is measured as the published build measures it before the page says so.
            runs = self._measure(plan, options, quick=False)
        self._note_produced(loc, runs)
        if not runs:
            return self._convert(md, code_block("python", timing.listing(plan)))
        for problem in timing.contradictions(options["expect"], timing.measurements(runs)):
            self._warn(options["failures"], loc, problem)
        for margin in timing.narrow(options["expect"], timing.measurements(runs)):
            log.info(f"{loc}: expect= {margin}: on a busier machine it may fail; expect a clearer difference")
        text, stash = timing.render(plan, runs, options["title"], options["number"])
        if untimed:
            text += (f"\n\nNot timed on {', '.join(i.label for i in untimed)}: timings there say nothing "
                     "about the speed of a native interpreter.\n")
        if options["absent"]:
            text += "\n\n" + _not_in_this_build(options["absent"])
        return self._convert(md, text, stash)

    def _format_other(self, src: str, language: str, css_class: str, options: dict, md: Markdown, **kwargs: Any) -> str:
        return md.preprocessors["fenced_code_block"].highlight(src=src, language=language, options=options, md=md, **kwargs)
