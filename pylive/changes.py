"""The page "What changed, version by version", written by the build from its own outputs.

While pages render, every example shown under more than one runtime reports its outputs
(`record`); for each pair of neighbouring versions whose outputs differ, the page lists
the example, where it is, and the lines that changed. Nothing on it is written by hand.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from pylive.engine import Interpreter

MAX_DIFF_LINES = 14  # per example and step: enough to see the change, a link for the rest


@dataclass(frozen=True)
class Change:
    page: str  # docs-relative source path of the page
    title: str
    section: str
    line: int
    before: Interpreter
    after: Interpreter
    diff: list[str]


class Changes:
    def __init__(self) -> None:
        self.found: list[Change] = []
        self.examples_by_page: dict[str, int] = {}

    @property
    def examples(self) -> int:
        return sum(self.examples_by_page.values())

    def forget(self, page: str) -> None:
        """Drop what a page reported: it is about to render again (a rebuild of `mkdocs
        serve` renders only the edited pages, and keeps the others' entries)."""
        self.found = [change for change in self.found if change.page != page]
        self.examples_by_page.pop(page, None)

    def record(self, page: str, title: str, section: str, line: int,
               ran: list[tuple[Interpreter, str]]) -> None:
        """The outputs of one example, oldest runtime first. Only CPython's versions are
        compared: other implementations beside it are a difference of kind, not of version."""
        ran = [(interpreter, output) for interpreter, output in ran if interpreter.implementation == "CPython"]
        if len(ran) < 2:
            return
        self.examples_by_page[page] = self.examples_by_page.get(page, 0) + 1
        for (before, old), (after, new) in zip(ran, ran[1:]):
            if old != new:
                diff = list(difflib.unified_diff(old.rstrip("\n").split("\n"), new.rstrip("\n").split("\n"),
                                                 lineterm="", n=0))[2:]
                diff = [line for line in diff if not line.startswith("@@")]
                self.found.append(Change(page, title, section, line, before, after, diff))

    def markdown(self) -> str:
        steps: dict[tuple[str, str], list[Change]] = {}
        for change in self.found:
            steps.setdefault((change.before.minor, change.after.minor), []).append(change)
        parts = [
            # Out of the search index: its many titles and diffs would crowd out the pages.
            "---\nsearch:\n  exclude: true\n---\n",
            "# What changed, version by version\n",
            "Every example on this site that runs under more than one Python version was run under "
            f"each of them when the site was built: {self.examples} examples. For each step from one "
            "version to the next, this page lists the examples whose output changed, with the lines "
            "that changed (`-` before, `+` after). The build writes this page from its own outputs.\n",
            "Where a step goes from a native interpreter to CPython on WebAssembly, part of the change "
            "is the platform's, not the version's: sizes and addresses are those of a 32-bit machine "
            "there; the page on how this site works says what else differs.\n",
        ]
        if not steps:
            parts.append("No example printed anything different between versions in this build.\n")
        for (old, new), changes in sorted(steps.items(), key=lambda item: _key(item[0][1])):
            first = changes[0]
            parts.append(f"## {old} → {new}\n")
            parts.append(f"{first.before.label} → {first.after.label}: {len(changes)} examples changed.\n")
            for change in sorted(changes, key=lambda c: (c.page, c.line)):
                where = f"{change.title} › {change.section}" if change.section else change.title
                shown = change.diff[:MAX_DIFF_LINES]
                if len(change.diff) > MAX_DIFF_LINES:
                    shown.append(f"… and {len(change.diff) - MAX_DIFF_LINES} more changed lines")
                fence = "`" * max(4, 1 + max((len(line) - len(line.lstrip("`")) for line in shown), default=0))
                parts.append(f"[{where}]({change.page}) (line {change.line})\n\n"
                             f'{fence}diff norun="generated from the outputs of this build"\n'
                             + "\n".join(shown) + f"\n{fence}\n")
        return "\n".join(parts)


def _key(minor: str) -> tuple[int, ...]:
    return tuple(int(part) for part in minor.split("."))
