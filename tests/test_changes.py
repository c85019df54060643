"""The generated page of what changed between versions (pylive/changes.py)."""

from __future__ import annotations

from pylive import changes, engine


def interpreter(version: str, platform: str = "CPython") -> engine.Interpreter:
    return engine.Interpreter(f"/p/{version}", version, platform, "")


def test_a_change_between_neighbours_is_listed_with_its_lines() -> None:
    found = changes.Changes()
    old, new, newer = interpreter("3.10.13"), interpreter("3.11.7"), interpreter("3.12.1")
    found.record("running/pipeline.md", "The pipeline", "Bytecode", 12,
                 [(old, "LOAD_NAME\nBINARY_ADD\n"), (new, "LOAD_NAME\nBINARY_OP\n"), (newer, "LOAD_NAME\nBINARY_OP\n")])
    found.record("types/dicts.md", "Dicts", "", 30, [(old, "same\n"), (new, "same\n")])
    page = found.markdown()
    assert "## 3.10 → 3.11" in page and "## 3.11 → 3.12" not in page
    assert "[The pipeline › Bytecode](running/pipeline.md) (line 12)" in page
    assert "-BINARY_ADD\n+BINARY_OP" in page and "LOAD_NAME" not in page
    assert "Dicts" not in page, "an example whose output did not change is not listed"
    assert "2 examples" in page


def test_a_long_change_is_cut_with_a_count() -> None:
    found = changes.Changes()
    before = "\n".join(f"line {i}" for i in range(40))
    after = "\n".join(f"row {i}" for i in range(40))
    found.record("a.md", "A", "", 3, [(interpreter("3.12.1"), before), (interpreter("3.13.0"), after)])
    assert f"… and {80 - changes.MAX_DIFF_LINES} more changed lines" in found.markdown()


def test_a_build_without_changes_says_so() -> None:
    assert "No example printed anything different" in changes.Changes().markdown()


def test_a_page_rendered_again_replaces_its_entries() -> None:
    # A rebuild of `mkdocs serve` renders only the edited page; the others' entries stay.
    found = changes.Changes()
    old, new = interpreter("3.12.1"), interpreter("3.13.0")
    found.record("a.md", "A", "", 3, [(old, "1\n"), (new, "2\n")])
    found.record("b.md", "B", "", 5, [(old, "x\n"), (new, "y\n")])
    found.forget("a.md")
    found.record("a.md", "A", "", 3, [(old, "1\n"), (new, "1\n")])
    page = found.markdown()
    assert "[B](b.md)" in page and "[A](a.md)" not in page
    assert "2 examples" in page
