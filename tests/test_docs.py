"""The pages' own code: transcripts, snippet files, and that every fence is accounted for.

(Every `python` fence is run by pytest-markdown-docs, collected from docs/.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, SNIPPETS, interpreters_for, markdown_pages, page_id
from pylive import engine, fences


def _transcripts() -> list:
    found = []
    for page in markdown_pages():
        for fence in fences.scan(page.read_text(encoding="utf-8")):
            if fence.lang == "pycon" and fence.runs:
                found.append(pytest.param(page, fence, id=f"{page_id(page)}:{fence.line}"))
    return found


@pytest.mark.parametrize("page", markdown_pages(), ids=page_id)
def test_every_fence_is_run_or_says_why_not(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    problems = [
        f"{page_id(page)}:{f.line}: ```{f.lang or '(no language)'} is neither run nor marked norun=\"reason\""
        for f in fences.unaccounted(text)
    ]
    problems += [
        f"{page_id(page)}:{f.line}: a python fence inside an indented block is not collected by the tests; "
        "move it to the top level or use /// blocks"
        for f in fences.scan(text)
        if f.lang in ("python", "py") and f.runs and f.indent
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page,fence", _transcripts())
def test_transcript_prints_what_the_page_says(page: Path, fence: fences.Fence) -> None:
    statements = engine.parse_transcript(fence.body)
    for interpreter in interpreters_for(fence):
        run = engine.run_transcript(statements, interpreter, float(fence.options.get("timeout", 10)))
        where = f"{page_id(page)}:{fence.line} under {interpreter.label}"
        assert not run.timed_out, f"{where}: timed out"
        assert not run.error, f"{where}: {run.error}"
        problems = engine.mismatches(statements, run)
        assert not problems, f"{where}:\n" + "\n".join(problems)
        # The check must be able to fail: a corrupted written output is caught.
        for index, statement in enumerate(statements):
            if statement.expected.strip() or statement.exc_msg:
                corrupted = engine.Statement(statement.source, statement.expected + "corrupted\n", statement.line,
                                             None if statement.exc_msg is None else statement.exc_msg + "corrupted\n")
                assert not engine.output_matches(corrupted, run.outputs[index]), (
                    f"{where}: line {statement.line}: a corrupted output still matched"
                )


@pytest.mark.parametrize("path", sorted(SNIPPETS.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_snippet_file_runs(path: Path) -> None:
    run = engine.run_script(path.read_text(encoding="utf-8"), engine.build_interpreter(), timeout=60)
    assert not run.timed_out, f"{path.relative_to(ROOT)} did not finish within 60 s"
    assert run.returncode == 0, f"{path.relative_to(ROOT)} exited with {run.returncode}:\n{run.output}"
