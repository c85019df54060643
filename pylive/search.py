"""MkDocs hook (mkdocs.yml: hooks) that keeps the search index light.

Every page fetches search/search_index.json, which Material's search plugin fills with the
whole text of every section. This hook leaves out of it what a reader never searches for,
and indexes the rest in a lighter form, with the searches of tests/test_search.py still
finding their pages:

* out: code listings and outputs (they were half of the index), timing charts, tables,
  sentences and stamps, diagrams, and the notes the build writes about versions (marked
  `data-search-exclude`, which Material's plugin skips, before it reads the page);
* lighter: a word of a page's prose is indexed once, in the first section that uses it,
  in a field of its own (`words`); the text shown in the results is the page's first
  paragraph, cut short, and nothing for its sections, which a result names by title; a
  page's tags (its search keywords), once, on the page rather than on each section.
  Search matches words, not phrases (lunr), so a page is found by every word it has.
"""

from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

TEASER = 160  # characters of a page's first paragraph shown under its title in the results
WORDS_FIELD = "words"

# The opening tags of what the index leaves out; `data-search-exclude` on an element makes
# Material's parser skip it and all it holds (Material then removes the attribute).
_LEFT_OUT = re.compile(
    r"<div class=\"(?:language-[\w-]+ )?highlight\""  # code listings and outputs, labs' included
    r"|<div class=\"pylive-chart\"|<div class=\"refdiagram-(?:figure|row)\""  # charts, diagrams
    r"|<details class=\"pylive-stamp\"|<small class=\"pylive-stamp\""  # stamps, output labels
    # a timing's tabs (chart and table), and the build's notes: sentences from measurements,
    # outputs that differ between versions, runtimes an example did not run on
    r"|<div class=\"tabbed-set[^\"]*\"(?=[^>]*>(?:<input[^>]*>)*<div class=\"tabbed-labels\"><label[^>]*>Chart<)"
    r"|<div class=\"tabbed-labels\""  # the names of tabs: versions, Source and Output, Chart and Table
    r"|<(?:div class=\"admonition |details class=\")(?:info|warning)\"(?=>\s*<(?:p class=\"admonition-title\"|summary)>"
    r"(?:Measured when|Quick measurement|The output differs|Not run on|Not run in this build|Not timed))"
)


@event_priority(100)  # before Material's search plugin reads the page
def on_page_context(context: Any, page: Any, config: Any, nav: Any) -> Any:
    page.content = _LEFT_OUT.sub(lambda m: m[0] + ' data-search-exclude="light index"', page.content)
    return context


@event_priority(-100)  # after Material's search plugin has written the index
def on_post_build(config: Any) -> None:
    path = Path(config["site_dir"], "search", "search_index.json")
    if path.is_file():
        index = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps(lighten(index), separators=(",", ":"), ensure_ascii=False), encoding="utf-8")


def lighten(index: dict) -> dict:
    """The index with each page's words indexed once, in the first of its sections that has
    them (field `words`), and only a page's first paragraph, cut short, as text."""
    separator = re.compile(index["config"]["separator"])
    seen: dict[str, set[str]] = {}  # page -> the words its earlier sections have
    docs = []
    for doc in index["docs"]:
        page, _, anchor = doc["location"].partition("#")
        known = seen.setdefault(page, set())
        # a section's title is indexed as its title; its own words need not be in `words` too
        titled = set(_words(doc["title"], separator))
        new = [w for w in dict.fromkeys(_words(doc["text"], separator)) if w not in known and w not in titled]
        known.update(new)
        light = {**doc, "text": "" if anchor else _teaser(doc["text"])}
        if anchor:  # a page's tags (search keywords) are on each of its sections: its first is enough
            light.pop("tags", None)
        if new:
            light[WORDS_FIELD] = " ".join(new)
        docs.append(light)
    fields = {**index["config"].get("fields", {}), WORDS_FIELD: {"boost": 1.0}}
    return {"config": {**index["config"], "fields": fields}, "docs": docs}


@functools.lru_cache(maxsize=8192)
def _words(text: str, separator: re.Pattern[str]) -> tuple[str, ...]:
    """The terms Material's search worker makes of `text`: the text between tags, split by
    the site's separator, lower-cased. Kept for the next build: `make serve` indexes every
    page again after each edit, and most sections have not changed (about 0.1 s)."""
    plain = re.sub(r"<[^>]*>", " ", text)
    return tuple(term.lower() for term in separator.split(plain) if term and not term.isspace()
                 and not separator.fullmatch(term.lower()))


def _teaser(text: str) -> str:
    """The first paragraph, as plain text, cut at a word near TEASER characters."""
    first = re.search(r"<p>(.*?)</p>", text, re.S)
    plain = html.unescape(re.sub(r"<[^>]*>", "", first[1] if first else text)).strip()
    if len(plain) > TEASER:
        plain = plain[:TEASER].rsplit(" ", 1)[0] + " …"
    return html.escape(plain, quote=False)
