"""Find the code fences of a Markdown page, with their line numbers and options.

One scanner serves the build (to name the page and line of a failing example), the
tests (to collect every transcript, and to fail on a fence nobody runs) and the
include checks. It understands both fence info styles of pymdownx.superfences:
``` ```python title="x" ``` and ``` ```{.python title="x"} ```.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")
_OPTION = re.compile(r"""(?P<key>[a-zA-Z][\w-]*)(?:=(?P<quote>["'])(?P<value>.*?)(?P=quote))?""")
_INCLUDE = re.compile(r"""^[ \t]*-{1,}8<-{1,}[ \t]+(?P<quote>["'])(?P<target>[^"']+)(?P=quote)[ \t]*$""")

# Languages the engine executes; any other fence must say why it is not run.
EXECUTED = frozenset({"python", "py", "pycon", "build-info", "timeit"})


@dataclass
class Fence:
    """A fenced code block: where it starts (1-based line of the opening fence) and what it holds."""

    line: int
    indent: str
    lang: str
    options: dict[str, str] = field(default_factory=dict)
    body: str = ""
    braces: bool = False
    closed: bool = True
    """False when the page ends before the fence's closing line."""

    @property
    def runs(self) -> bool:
        return self.lang in EXECUTED and "norun" not in self.options

    @property
    def includes(self) -> list[tuple[int, str]]:
        """`--8<-- "file:section"` lines inside the fence, with their page line numbers."""
        found = []
        for offset, text in enumerate(self.body.split("\n"), start=1):
            match = _INCLUDE.match(text)
            if match:
                found.append((self.line + offset, match["target"]))
        return found


def parse_info(info: str) -> tuple[str, dict[str, str], bool]:
    """Language, options and brace style of a fence's info string."""
    braces = info.startswith("{") and info.endswith("}")
    text = info[1:-1].strip() if braces else info
    lang = ""
    if braces:
        dotted = re.search(r"(?:^|\s)\.([\w#+-]+)", text)
        lang = dotted.group(1) if dotted else ""
        text = re.sub(r"(?:^|\s)[.#][\w#+-]+", " ", text)
    else:
        head = re.match(r"\.?([\w#.+-]+)", text)
        if head:
            lang, text = head.group(1), text[head.end():]
    options = {m["key"]: (m["value"] if m["value"] is not None else "") for m in _OPTION.finditer(text)}
    return lang, options, braces


def scan(markdown: str, first_line: int = 1) -> list[Fence]:
    """Every fence of a page, in order, including fences indented inside other blocks.
    `first_line` is the file line of the Markdown's first line (MkDocs strips front matter)."""
    fences: list[Fence] = []
    lines = markdown.split("\n")
    index = 0
    while index < len(lines):
        opened = _OPEN.match(lines[index])
        if not opened:
            index += 1
            continue
        marker, indent, opening_line = opened["fence"], opened["indent"], index + first_line
        lang, options, braces = parse_info(opened["info"])
        closing = re.compile(rf"^[ \t]*{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
        body: list[str] = []
        index += 1
        while index < len(lines) and not closing.match(lines[index]):
            line = lines[index]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            index += 1
        fences.append(Fence(opening_line, indent, lang, options, "\n".join(body), braces, index < len(lines)))
        index += 1
    return fences


def annotate(markdown: str, page: str, first_line: int = 1) -> str:
    """Give every executed or `norun` fence a `loc="page:line"` option, so that the
    build can name where an example that fails is written."""
    lines = markdown.split("\n")
    for fence in scan(markdown, first_line):
        if fence.lang not in EXECUTED and "norun" not in fence.options:
            continue
        number = fence.line - first_line
        loc = f'loc="{page}:{fence.line}"'
        text = lines[number].rstrip()
        lines[number] = text[:-1] + f" {loc}}}" if fence.braces else f"{text} {loc}"
    return "\n".join(lines)


def unaccounted(markdown: str, first_line: int = 1) -> list[Fence]:
    """Fences that are neither executed nor marked `norun="why"`: the tests refuse them."""
    return [f for f in scan(markdown, first_line) if f.lang not in EXECUTED and not f.options.get("norun")]


def _include_problem(target: str, base: Path) -> str | None:
    name, _, section = target.partition(":")
    path = base / name
    if not path.is_file():
        return f"included file {name!r} does not exist"
    if section and not section.replace(":", "").isdigit():
        text = path.read_text(encoding="utf-8")
        if f"[start:{section}]" not in text or f"[end:{section}]" not in text:
            return f"{name!r} has no section {section!r}"
    return None


def missing_includes(fence: Fence, base: Path) -> list[tuple[int, str]]:
    """What is wrong with a fence's `--8<--` includes (a missing file or section), by page line."""
    found = ((line, _include_problem(target, base)) for line, target in fence.includes)
    return [(line, problem) for line, problem in found if problem]


def broken_includes(markdown: str, base: Path) -> list[tuple[int, str]]:
    """Every `--8<--` include line of a page, in a fence or in prose, that names a missing
    file or section: (0-based index of the line, what is wrong)."""
    problems = []
    for index, text in enumerate(markdown.split("\n")):
        match = _INCLUDE.match(text)
        problem = _include_problem(match["target"], base) if match else None
        if problem:
            problems.append((index, problem))
    return problems
