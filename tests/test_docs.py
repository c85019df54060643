"""The pages' own code: transcripts, snippet files, and that every fence is accounted for.

(Every `python` fence is run by pytest-markdown-docs, collected from docs/.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, SNIPPETS, interpreters_for, markdown_pages, page_id, version_matrix
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
    runs = []
    for interpreter in interpreters_for(fence):
        run = engine.run_transcript(statements, interpreter, float(fence.options.get("timeout", 10)))
        where = f"{page_id(page)}:{fence.line} under {interpreter.label}"
        assert not run.timed_out, f"{where}: timed out"
        assert not run.error, f"{where}: {run.error}"
        runs.append(run)
        problems = engine.mismatches(statements, run)
        assert not problems, f"{where}:\n" + "\n".join(f"line {s.line}: {p}" for s, p in problems)
        # The check must be able to fail: a corrupted written output is caught.
        for index, statement in enumerate(statements):
            if statement.expected.strip() or statement.exc_msg:
                corrupted = engine.Statement(statement.source, statement.expected + "corrupted\n", statement.line,
                                             None if statement.exc_msg is None else statement.exc_msg + "corrupted\n")
                assert not engine.output_matches(corrupted, run.outputs[index]), (
                    f"{where}: line {statement.line}: a corrupted output still matched"
                )
    elided = engine.ellipsis_problems(statements, runs)
    assert not elided, f"{page_id(page)}:{fence.line}:\n" + "\n".join(f"line {s.line}: {p}" for s, p in elided)


@pytest.mark.parametrize("path", sorted(SNIPPETS.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_snippet_file_runs(path: Path) -> None:
    run = engine.run_script(path.read_text(encoding="utf-8"), engine.newest_native(list(version_matrix())), timeout=60)
    assert not run.timed_out, f"{path.relative_to(ROOT)} did not finish within 60 s"
    assert run.returncode == 0, f"{path.relative_to(ROOT)} exited with {run.returncode}:\n{run.output}"


def _chapter_pages() -> list:
    return [pytest.param(page, id=page_id(page)) for page in markdown_pages()
            if page.parent != ROOT / "docs" and page.name != "index.md" and (page.parent / "index.md").exists()]


@pytest.mark.parametrize("page", _chapter_pages())
def test_chapter_index_lists_the_page(page: Path) -> None:
    """A new page is listed on its chapter's index page, where readers of the chapter look."""
    index = (page.parent / "index.md").read_text(encoding="utf-8")
    assert f"]({page.name}" in index or f"]({page.name}#" in index, (
        f"{page_id(page.parent / 'index.md')} does not link to {page.name}: list the new page there"
    )


def test_every_fence_is_closed() -> None:
    problems = [f"{page_id(page)}:{f.line}: this fence is never closed"
                for page in markdown_pages() for f in fences.scan(page.read_text(encoding="utf-8")) if not f.closed]
    assert not problems, "\n".join(problems)
