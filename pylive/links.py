"""Find the line of every broken link and anchor of a page, so a message says where to fix it.

MkDocs's own link validation names the page but not the line. The plugin records each
page's Markdown as it is read (`on_page_markdown`) and the ids its HTML defines
(`on_page_content`); after the build (`on_post_build`) `LinkChecker.problems()` returns one
message per broken link, `docs/<page>.md:<line>: link to <target> not found (<why>)`.

Links are found in the Markdown a person writes: inline links and images `[text](target)`,
reference definitions `[id]: target`, and `href`/`src` attributes of raw HTML. Code (fenced
blocks and inline code spans) and HTML comments are ignored. Links to other hosts and
absolute paths are left to MkDocs's own validation.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote

# A fence opens with 3+ backticks or tildes (possibly indented) and closes with at least as many.
_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(?P<ticks>`+)(?!`).*?(?<!`)(?P=ticks)(?!`)", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
# `](` of an inline link or image; the target follows, optionally in <...>, then an optional title.
_INLINE = re.compile(r"""\]\(\s*(?:<(?P<angled>[^>\n]*)>|(?P<bare>[^\s()]*(?:\([^\s()]*\)[^\s()]*)*))""")
_REFERENCE = re.compile(r"""^[ ]{0,3}\[(?!\^)[^\]\n]+\]:[ \t]*(?:<(?P<angled>[^>\n]*)>|(?P<bare>\S+))""", re.M)
_HTML_ATTR = re.compile(r"""<[a-zA-Z][^>]*?\s(?:href|src)\s*=\s*(?P<quote>["'])(?P<target>.*?)(?P=quote)""", re.S)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")

DOC_SUFFIXES = (".md", ".ipynb")


@dataclass(frozen=True)
class Link:
    """A link written in a page: the line it is on (1-based) and its target as written."""

    line: int
    target: str


@dataclass(frozen=True)
class BrokenLink:
    page: str  # src_uri of the page that holds the link, e.g. "running/pipeline.md"
    line: int
    target: str
    reason: str

    def __str__(self) -> str:
        return f"docs/{self.page}:{self.line}: link to {self.target} not found ({self.reason})"


def _blank(match: re.Match[str]) -> str:
    """The matched text with every character but newlines replaced by spaces (keeps lines)."""
    return re.sub(r"[^\n]", " ", match.group(0))


def _mask_code(markdown: str) -> str:
    """The page with fenced blocks, code spans and HTML comments blanked, line numbers kept."""
    lines = markdown.split("\n")
    masked: list[str] = []
    closing: re.Pattern[str] | None = None
    for line in lines:
        if closing is not None:
            if closing.match(line):
                closing = None
            masked.append("")
            continue
        opened = _FENCE.match(line)
        if opened:
            marker = opened["fence"]
            closing = re.compile(rf"^[ \t]*{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
            masked.append("")
            continue
        masked.append(line)
    text = "\n".join(masked)
    text = _COMMENT.sub(_blank, text)
    return _CODE_SPAN.sub(_blank, text)


def find_links(markdown: str) -> list[Link]:
    """Every link target written in `markdown`, with its line, in the order they appear."""
    text = _mask_code(markdown)
    found: list[tuple[int, str]] = []
    for pattern in (_INLINE, _REFERENCE):
        for match in pattern.finditer(text):
            target = match["angled"] if match["angled"] is not None else match["bare"]
            found.append((match.start(), target))
    for match in _HTML_ATTR.finditer(text):
        found.append((match.start("target"), match["target"]))
    found.sort()
    return [Link(text.count("\n", 0, offset) + 1, target) for offset, target in found]


def _is_external(target: str) -> bool:
    return bool(_SCHEME.match(target)) or target.startswith("//")


def check_link(
    page: str, target: str, files: set[str] | frozenset[str], anchors: Mapping[str, set[str]]
) -> str | None:
    """Why `target`, written in `page`, does not resolve; None when it does (or is not ours).

    `files` holds the src_uri of every file of the docs; `anchors` the ids of each page
    whose anchors are known. Links to other hosts and absolute paths are not checked here.
    """
    target = target.strip()
    if not target or _is_external(target) or target.startswith("/"):
        return None
    path, _, fragment = target.partition("#")
    path = path.partition("?")[0]
    fragment = unquote(fragment)
    if not path:
        destination = page
    else:
        destination = posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(path)))
        if destination.startswith("../") or destination == "..":
            return "it points outside docs/"
        if destination not in files:
            index = posixpath.join(destination, "index.md").removeprefix("./")
            if index in files:
                return f"a link to a folder is not a page; link {index!r} instead"
            return f"no file docs/{destination}"
    if fragment and destination.endswith(DOC_SUFFIXES) and destination in anchors:
        if fragment not in anchors[destination]:
            return f"docs/{destination} has no anchor #{fragment}"
    return None


def broken_links(
    page: str, markdown: str, files: Iterable[str], anchors: Mapping[str, set[str]], first_line: int = 1
) -> list[BrokenLink]:
    """The broken links and anchors of one page; `first_line` is the file line of the
    Markdown's first line (after front matter)."""
    known = frozenset(files)
    problems = []
    for link in find_links(markdown):
        reason = check_link(page, link.target, known, anchors)
        if reason:
            problems.append(BrokenLink(page, link.line + first_line - 1, link.target, reason))
    return problems


class _IdCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name == "id" or (name == "name" and tag == "a")):
                self.ids.add(value)


def ids_in_html(html: str) -> set[str]:
    """Every fragment a link can point to in `html`: element ids and `<a name>`."""
    collector = _IdCollector()
    collector.feed(html)
    collector.close()
    return collector.ids


def first_line_of(markdown: str, source: str | None) -> int:
    """The line of the source file where `markdown` starts: MkDocs hands plugins the page
    without its front matter, and messages must count lines as the file does."""
    if source and markdown and source.endswith(markdown):
        return source[: len(source) - len(markdown)].count("\n") + 1
    return 1


class LinkChecker:
    """What the plugin records during a build, and the broken links found after it:
    `page_markdown()` in on_page_markdown, `page_content()` in on_page_content, and
    `problems()` in on_post_build, each logged as a warning (so the strict build fails).
    """

    def __init__(self) -> None:
        self.markdown: dict[str, tuple[str, int]] = {}
        self.anchors: dict[str, set[str]] = {}
        self.files: set[str] = set()

    def page_markdown(self, page: str, markdown: str, source: str | None = None, files: Iterable = ()) -> None:
        """Record a page's Markdown as read (before anything rewrites it), and the docs' files
        (MkDocs `File` objects or src_uri strings)."""
        self.markdown[page] = (markdown, first_line_of(markdown, source))
        self.files.update(getattr(f, "src_uri", f) for f in files)

    def page_content(self, page: str, html: str) -> None:
        """Record the anchors a page defines, from its rendered HTML."""
        self.anchors[page] = ids_in_html(html)

    def problems(self) -> list[BrokenLink]:
        """Every broken link of every recorded Markdown page, in page and line order."""
        found: list[BrokenLink] = []
        for page, (markdown, first_line) in sorted(self.markdown.items()):
            if page.endswith(".md"):
                found.extend(broken_links(page, markdown, self.files, self.anchors, first_line))
        return found
