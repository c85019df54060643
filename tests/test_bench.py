"""The benchmark's own choices (scripts/bench_build.py): the edits it times must show on
the page, or `make bench` waits for them in vain."""

from __future__ import annotations

import importlib.util
import sys

from conftest import DOCS, ROOT

spec = importlib.util.spec_from_file_location("bench_build", ROOT / "scripts" / "bench_build.py")
assert spec is not None and spec.loader is not None
bench_build = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench_build  # its dataclasses look their module up
spec.loader.exec_module(bench_build)


def test_the_prose_edit_is_a_word_of_the_page_body_not_of_its_front_matter() -> None:
    text = "---\nsearch:\n  boost: 2\ntags:\n  - compiled\n---\n\n# Title\n\nPython compiles source.\n"
    start, end = bench_build.prose_word(text)
    assert text[start:end] == "Python"


def test_the_default_page_has_a_prose_word_and_a_code_line_to_edit() -> None:
    text = (DOCS / "running" / "pipeline.md").read_text(encoding="utf-8")
    start, end = bench_build.prose_word(text)
    body = text.split("\n---\n", 1)[1] if text.startswith("---\n") else text
    assert text[start:end].isalpha() and start > len(text) - len(body)
    assert text[: bench_build.code_line(text)].rstrip("\n").split("\n")[-2].startswith("```python")
