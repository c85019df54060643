"""The MkDocs plugin: executed fences on pages, rendered with markdown-exec's helpers.

Fences it runs (see CONTRIBUTING.md for every option):

* ```` ```python ```` a program; the page shows its source and everything it wrote;
* ```` ```pycon ```` a REPL transcript; the written outputs are checked, the real ones shown;
* ```` ```build-info ```` a table of the interpreters and machine that built the site;
* ```` ```timeit ```` statements timed with `timeit`, shown as code, chart, table and stamp
  (see `timing.py`).

`versions="all"` runs a block under every CPython of the version matrix, shown as tabs.
Any fence can opt out with `norun="the reason"`. A failure is a warning (so the strict
build fails) that starts with the page and line of the fence.
"""

from __future__ import annotations

import datetime
import logging
import os
import platform
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from markdown import Markdown
from markdown_exec import MarkdownConverter, add_source, code_block, markdown_config, tabbed
from mkdocs.config import config_options
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from pymdownx.superfences import SuperFencesException, highlight_validator

from pylive import engine, fences, links, timing

log = logging.getLogger("mkdocs.plugins.pylive")

SOURCE_PLACES = {"above", "below", "tabbed-left", "tabbed-right", "none"}
OUTPUT_KINDS = {"text", "markdown", "html", "none"}
PYTHON_OPTIONS = {"loc", "source", "versions", "timeout", "returncode", "output", "title", "needs"}
PYCON_OPTIONS = {"loc", "versions", "timeout", "needs"}
# What an example may declare it relies on (needs="threads,subprocess"): a runtime that
# lacks it (CPython on WebAssembly) shows that the example was not run there, and why.
NEEDS = {"threads", "subprocess", "sockets", "timing", "native"}
TIMEIT_OPTIONS = {"loc", "title", "setup", "versions", "budget", "repeat", "number", "expect", "timeout"}


class LivePluginConfig(Config):
    interpreters = config_options.ListOfItems(config_options.Type(str), default=[])
    """Interpreters of the version matrix; empty means: search PATH and pyenv."""
    require_versions = config_options.ListOfItems(config_options.Type(str), default=[])
    """Minor versions (`"3.13"`) the matrix must have, or the build fails."""
    min_version = config_options.Type(str, default="3.10")
    timeout = config_options.Type((int, float), default=10)
    """Seconds an example may run before the build calls it hung."""
    pythonpath = config_options.ListOfItems(config_options.Type(str), default=[])
    """Folders (relative to mkdocs.yml) of helper modules examples may import."""


def _env_list(name: str, separator: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(separator) if item.strip()]


class LivePlugin(BasePlugin[LivePluginConfig]):
    def on_config(self, config: Any) -> Any:
        self.build_python = engine.build_interpreter()
        explicit = _env_list("PYLIVE_INTERPRETERS", os.pathsep) or self.config.interpreters
        try:
            self.matrix = engine.discover(explicit, self.config.min_version)
        except engine.EngineError as error:
            raise PluginError(str(error)) from error
        required = _env_list("PYLIVE_REQUIRE_VERSIONS", ",") or self.config.require_versions
        missing = sorted(set(required) - {i.minor for i in self.matrix})
        if missing:
            raise PluginError(
                f"the version matrix needs CPython {', '.join(missing)}, which this machine does not have "
                "(set PYLIVE_INTERPRETERS to their paths, separated by ':')"
            )
        self.base_dir = Path(config["config_file_path"]).parent
        engine.HELPER_PATH[:] = [str((self.base_dir / p).resolve()) for p in self.config.pythonpath]
        # PYLIVE_EXECUTE=0 shows every example's source and runs none: only for measuring
        # what the rest of the build costs (scripts/bench_build.py); never for publishing.
        self.execute = os.environ.get("PYLIVE_EXECUTE", "1") != "0"
        self.examples_run = 0
        self._nested = 0
        self.links = links.LinkChecker()
        self.seconds_running = 0.0
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
        (a page then takes its finished result; see engine._EarlyStart). Fences that
        include snippet files run when their page renders, once the includes are expanded."""
        if not self.execute:
            return files
        for file in files.documentation_pages():
            if not file.src_uri.endswith(".md"):
                continue
            for fence in fences.scan(file.content_string):
                if not fence.runs or fence.includes or fence.lang not in ("python", "py", "pycon"):
                    continue
                timeout = float(fence.options.get("timeout", self.config.timeout))
                for interpreter in engine.choose(fence.options.get("versions", ""), self.matrix, self.build_python)[0]:
                    if fence.lang != "pycon":
                        engine.start_script(fence.body, interpreter, timeout)
                        continue
                    try:
                        engine.start_transcript(engine.parse_transcript(fence.body), interpreter, timeout)
                    except engine.EngineError:
                        continue  # reported with its page and line when the page renders
        return files

    def on_nav(self, nav: Any, config: Any, files: Any) -> Any:
        engine.early.wait()  # timings, measured while pages render, get quiet cores
        return nav

    def on_page_markdown(self, markdown: str, page: Any, config: Any, files: Any) -> str:
        where = f"docs/{page.file.src_uri}"
        source = page.file.content_string
        first_line = links.first_line_of(markdown, source)
        self.links.page_markdown(page.file.src_uri, markdown, source, files)
        for fence in fences.unaccounted(markdown, first_line):
            log.warning(
                f'{where}:{fence.line}: a ```{fence.lang or "(no language)"} fence is neither run nor '
                'marked norun="reason"'
            )
        problems = [f"{where}:{line}: {problem}" for f in fences.scan(markdown, first_line)
                    for line, problem in fences.missing_includes(f, self.base_dir)]
        if problems:
            raise PluginError("\n".join(problems))
        return fences.annotate(markdown, where, first_line)

    def on_page_content(self, html: str, page: Any, config: Any, files: Any) -> str:
        self.links.page_content(page.file.src_uri, html)
        return html

    def on_post_build(self, config: Any) -> None:
        # MkDocs names a page with a broken link or anchor; these say which line.
        for problem in self.links.problems():
            log.warning(str(problem))
        log.info(
            f"pylive: ran {self.examples_run} examples ({engine.early.taken} started early) "
            f"in {self.seconds_running:.1f} s of child-process time"
        )

    def _convert(self, md: Markdown, text: str, stash: dict[str, str] | None = None) -> str:
        """Render generated Markdown; the code blocks in it are only highlighted, never run.
        `stash` maps placeholders to HTML put in after conversion (a chart's SVG)."""
        self._nested += 1
        try:
            return MarkdownConverter(md, update_toc=False).convert(text, stash)
        finally:
            self._nested -= 1

    # -- options ---------------------------------------------------------------------

    def _check_options(self, language: str, inputs: dict[str, str], allowed: set[str]) -> str:
        loc = inputs.get("loc", "?")
        unknown = sorted(set(inputs) - allowed)
        if unknown:
            raise SuperFencesException(f"{loc}: unknown option(s) {', '.join(unknown)} on a {language} fence")
        needs = {n.strip() for n in inputs.get("needs", "").split(",") if n.strip()}
        if needs - NEEDS:
            raise SuperFencesException(f"{loc}: needs= takes {', '.join(sorted(NEEDS))}, not {', '.join(sorted(needs - NEEDS))}")
        return loc

    def _interpreters(self, loc: str, versions: str) -> list[engine.Interpreter]:
        chosen, complete = engine.choose(versions, self.matrix, self.build_python)
        if not complete:
            known = ", ".join(i.minor for i in self.matrix)
            log.warning(f"{loc}: versions={versions!r} asks for a version this build lacks (it has {known})")
        return chosen

    def _validate_python(self, language: str, inputs: dict[str, str], options: dict, attrs: dict, md: Markdown) -> bool:
        if self._nested or "norun" in inputs:
            return False
        loc = self._check_options(language, inputs, PYTHON_OPTIONS)
        source = inputs.get("source", "above")
        output = inputs.get("output", "text")
        if source not in SOURCE_PLACES or output not in OUTPUT_KINDS:
            raise SuperFencesException(f"{loc}: source= takes {sorted(SOURCE_PLACES)}, output= takes {sorted(OUTPUT_KINDS)}")
        options.update(
            loc=loc,
            source=source,
            output=output,
            title=inputs.get("title", ""),
            interpreters=self._interpreters(loc, inputs.get("versions", "")),
            timeout=float(inputs.get("timeout", self.config.timeout)),
            returncode=int(inputs.get("returncode", "0")),
        )
        return True

    def _validate_pycon(self, language: str, inputs: dict[str, str], options: dict, attrs: dict, md: Markdown) -> bool:
        if self._nested or "norun" in inputs:
            return False
        loc = self._check_options(language, inputs, PYCON_OPTIONS)
        options.update(
            loc=loc,
            interpreters=self._interpreters(loc, inputs.get("versions", "")),
            timeout=float(inputs.get("timeout", self.config.timeout)),
        )
        return True

    def _validate_build_info(self, language: str, inputs: dict[str, str], options: dict, attrs: dict, md: Markdown) -> bool:
        return not self._nested

    def _validate_timeit(self, language: str, inputs: dict[str, str], options: dict, attrs: dict, md: Markdown) -> bool:
        if self._nested or "norun" in inputs:
            return False
        loc = self._check_options(language, inputs, TIMEIT_OPTIONS)
        try:
            budget = float(inputs.get("budget", timing.DEFAULT_BUDGET))
            repeat = int(inputs.get("repeat", timing.DEFAULT_REPEAT))
            number = int(inputs["number"]) if "number" in inputs else None
            timeout = float(inputs.get("timeout", self.config.timeout))
        except ValueError as error:
            raise SuperFencesException(f"{loc}: budget=, repeat=, number= and timeout= take numbers ({error})") from error
        if budget <= 0 or repeat < 1 or (number is not None and number < 1):
            raise SuperFencesException(f"{loc}: budget= must be positive, repeat= and number= at least 1")
        options.update(
            loc=loc,
            title=inputs.get("title", ""),
            setup=inputs.get("setup", ""),
            expect=inputs.get("expect", ""),
            interpreters=self._interpreters(loc, inputs.get("versions", "")),
            budget=budget,
            repeat=repeat,
            number=number,
            timeout=timeout,
        )
        return True

    def _validate_other(self, language: str, inputs: dict[str, str], options: dict, attrs: dict, md: Markdown) -> bool:
        """Every fence the engine does not run: check its `norun` reason, then highlight it
        as pymdownx.superfences would (a `*` fence replaces superfences' default one)."""
        reason = inputs.pop("norun", None)
        loc = inputs.pop("loc", "?")
        if reason is not None and not reason.strip():
            raise SuperFencesException(f'{loc}: norun needs a reason, as in norun="starts a server"')
        return highlight_validator(language, inputs, options, attrs, md)

    # -- rendering -------------------------------------------------------------------

    def _run_all(self, run: Any, interpreters: list[engine.Interpreter]) -> list[Any]:
        with ThreadPoolExecutor(max_workers=min(len(interpreters), os.cpu_count() or 1)) as pool:
            results = list(pool.map(run, interpreters))
        self.examples_run += len(results)
        self.seconds_running += sum(getattr(r, "seconds", 0.0) for r in results)
        return results

    def _versions_view(self, blocks: list[tuple[engine.Interpreter, str]], outputs: list[str]) -> str:
        """One output, or tabs labelled with each exact version and a note when they differ."""
        if len(blocks) == 1:
            return blocks[0][1]
        tabs = tabbed(*((interpreter.label, block) for interpreter, block in blocks))
        labels = ", ".join(i.version for i, _ in blocks)
        if len(set(outputs)) == 1:
            note = f'!!! success "Same output on CPython {labels}"'
        else:
            note = f'!!! warning "The output differs between CPython versions ({labels}): compare the tabs"'
        return f"{note}\n\n{tabs}"

    def _format_python(self, src: str, language: str, css_class: str, options: dict, md: Markdown, **kwargs: Any) -> str:
        if not self.execute:
            return self._convert(md, code_block("python", src))
        interpreters = options["interpreters"]
        runs = self._run_all(partial(self._run_python_block, src, options), interpreters)
        blocks = []
        for interpreter, run in zip(interpreters, runs):
            label = f"Output · {interpreter.label}"
            if options["output"] in ("markdown", "html"):
                blocks.append((interpreter, f"{run.output}\n\n<small class=\"pylive-stamp\">{label}</small>"))
            else:
                blocks.append((interpreter, code_block("text", run.output.rstrip("\n") or "(no output)", title=label)))
        view = self._versions_view(blocks, [r.output for r in runs])
        if options["source"] != "none":
            extra = {"title": options["title"]} if options["title"] else {}
            view = add_source(source=src, location=options["source"], output=view, language="python",
                              tabs=("Source", "Output"), **extra)
        return self._convert(md, view)

    def _run_python_block(self, src: str, options: dict, interpreter: engine.Interpreter) -> engine.Run:
        run = engine.run_script(src, interpreter, options["timeout"])
        where = f"{options['loc']}: python block under {interpreter.label}"
        if run.timed_out:
            log.warning(f"{where} did not finish within {options['timeout']:g} s (timeout=)")
        elif run.returncode != options["returncode"]:
            log.warning(f"{where} exited with code {run.returncode}, expected {options['returncode']}:\n{run.output}")
        elif not run.output.strip() and options["output"] != "none":
            log.warning(f'{where} printed nothing: show what it does, or say output="none"')
        return run

    def _format_pycon(self, src: str, language: str, css_class: str, options: dict, md: Markdown, **kwargs: Any) -> str:
        if not self.execute:
            return self._convert(md, code_block("pycon", src))
        loc = options["loc"]
        try:
            statements = engine.parse_transcript(src)
        except engine.EngineError as error:
            log.warning(f"{loc}: {error}")
            return self._convert(md, code_block("pycon", src))
        interpreters = options["interpreters"]
        runs = self._run_all(partial(engine.run_transcript, statements, timeout=options["timeout"]), interpreters)
        blocks = []
        for interpreter, run in zip(interpreters, runs):
            where = f"{loc}: transcript under {interpreter.label}"
            if run.timed_out:
                hung = statements[len(run.outputs)] if len(run.outputs) < len(statements) else statements[-1]
                log.warning(f"{where}: the statement at line {hung.line} did not finish within {options['timeout']:g} s")
            elif run.error:
                log.warning(f"{where} could not run:\n{run.error}")
            for problem in engine.mismatches(statements, run):
                log.warning(f"{where}: the written output is not what Python printed, {problem}")
            shown = "".join(s.prompted + "\n" + out for s, out in zip(statements, run.outputs))
            blocks.append((interpreter, code_block("pycon", shown.rstrip("\n"), title=f"REPL · {interpreter.label}")))
        view = self._versions_view(blocks, ["".join(r.outputs) for r in runs])
        return self._convert(md, view)

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

    def _format_timeit(self, src: str, language: str, css_class: str, options: dict, md: Markdown, **kwargs: Any) -> str:
        if not self.execute:
            return self._convert(md, code_block("text", src))
        loc = options["loc"]
        try:
            plan = timing.parse(src, options["setup"])
        except engine.EngineError as error:
            log.warning(f"{loc}: {error}")
            return self._convert(md, code_block("text", src))
        interpreters = options["interpreters"]
        budget = timing.share(options["budget"], len(interpreters), len(plan.statements))
        runs = []
        # One interpreter at a time: timings taken side by side would compete for the cores.
        for interpreter in interpreters:
            run = timing.measure(plan, interpreter, budget, options["repeat"], options["number"], options["timeout"])
            self.examples_run += 1
            self.seconds_running += run.seconds
            where = f"{loc}: timeit block under {interpreter.label}"
            if run.timed_out:
                log.warning(f"{where} did not finish within {options['timeout']:g} s (timeout=)")
            elif not run.succeeded:
                log.warning(f"{where} failed (exit code {run.returncode}):\n{run.output}")
            else:
                runs.append((interpreter, run))
        if not runs:
            return self._convert(md, code_block("python", timing.listing(plan)))
        for problem in timing.contradictions(options["expect"], timing.measurements(runs)):
            log.warning(f"{loc}: {problem}")
        text, stash = timing.render(plan, runs, options["title"], options["number"])
        return self._convert(md, text, stash)

    def _format_other(self, src: str, language: str, css_class: str, options: dict, md: Markdown, **kwargs: Any) -> str:
        return md.preprocessors["fenced_code_block"].highlight(src=src, language=language, options=options, md=md, **kwargs)
