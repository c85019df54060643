"""Finding things on the built site: search, the glossary, llms.txt, last-change dates.

All tests read the one strict build of the real site (the `site` fixture in conftest.py):

* search, run with the site's own code: Material's search worker (its bundled lunr and
  query handling) from the built site's assets, in Node (tests/search_query.mjs), on the
  built search index, for questions written as readers ask them; each must list its page
  among the first three results;
* the glossary page links each term to the page that teaches it, and a term in a page's
  prose shows its definition when hovered, in headless Chromium, offline;
* llms.txt lists every page, and every page has a Markdown copy with its executed outputs;
* every page's footer says when its source last changed, as git records it.

Node is needed for search and Chromium for the hover test: without them those tests skip,
unless CI is set: then they fail.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import DOCS, IN_CI, ROOT

# The server, browser and page helpers of the site tests, shared rather than copied.
sys.path.insert(0, str(Path(__file__).parent))
from test_site import Reader, browser, html_pages, page_url, serve  # noqa: F401 (fixtures)

SEARCH_RUNNER = Path(__file__).with_name("search_query.mjs")

# (what a reader types, the page that must be among the first three results)
READER_QUERIES = [
    ("refcount", "names/refcounting-and-gc/"),
    ("is python compiled or interpreted", "running/pipeline/"),
    ("floating point", "types/numbers/"),
    ("late binding", "functions/closures/"),
    ("return in finally", "functions/errors/"),
    ("[[0]*3]*3", "types/lists/"),
    ("why is python so slow", "performance/why-python-is-slow/"),
    ("what is the GIL", "concurrency/gil/"),
    ("global interpreter lock", "concurrency/gil/"),
    ("python without the gil", "concurrency/gil/"),
    ("free-threaded", "concurrency/gil/"),
    ("mutable default argument", "functions/parameters/"),
    ("difference between is and ==", "names/names-are-references/"),
    ("why is 257 is 257 false", "names/caching-and-interning/"),
    ("small int cache", "names/caching-and-interning/"),
    ("string interning", "names/caching-and-interning/"),
    ("when is memory freed", "names/refcounting-and-gc/"),
    ("circular references memory leak", "names/refcounting-and-gc/"),
    ("immortal objects", "names/refcounting-and-gc/"),
    ("deep copy vs shallow copy", "names/copying/"),
    ("what is __pycache__", "running/pyc-files/"),
    ("pyc file", "running/pyc-files/"),
    ("how to disassemble a function", "running/code-objects-and-dis/"),
    ("dis module", "running/code-objects-and-dis/"),
    ("code object", "running/code-objects-and-dis/"),
    ("specializing adaptive interpreter", "running/pipeline/"),
    ("jit compiler", "running/pipeline/"),
    ("how does import work", "modules/import-system/"),
    ("circular import", "modules/import-system/"),
    ("sys.path", "modules/import-system/"),
    ("venv", "modules/virtual-environments/"),
    ("what does activate do", "modules/virtual-environments/"),
    ("requirements.txt or pyproject.toml", "modules/dependencies/"),
    ("setup.py install deprecated", "modules/dependencies/"),
    ("pypy vs cpython", "running/implementations/"),
    ("python in the browser webassembly", "running/implementations/"),
    ("threads or processes", "concurrency/choosing/"),
    ("race condition", "concurrency/threads/"),
    ("async await", "concurrency/asyncio/"),
    ("if __name__ == '__main__'", "concurrency/processes/"),
    ("size of an object in memory", "names/memory-management/"),
    ("getsizeof", "names/memory-management/"),
    ("how do dictionaries work", "types/dicts/"),
    ("are dicts ordered", "types/dicts/"),
    ("0.1 + 0.2 != 0.3", "types/numbers/"),
    ("unicode encode decode", "types/strings-and-bytes/"),
    ("yield", "functions/iterators-and-generators/"),
    ("decorator with arguments", "functions/decorators/"),
    ("nonlocal", "functions/closures/"),
    ("why does my closure use the last loop value", "functions/closures/"),
    ("list of lists changes every row", "types/lists/"),
    ("how to time code", "performance/measuring/"),
    ("profiler", "performance/measuring/"),
    ("__slots__", "performance/comparisons/"),
    ("debugger", "tools/pdb/"),
    ("wsgi", "web/wsgi/"),
    ("jinja autoescape", "web/templates/"),
    ("from __future__ import annotations", "modules/future/"),
    ("x == None or x is None", "types/booleans-and-none/"),
    ("truthy falsy", "types/booleans-and-none/"),
    ("glossary", "glossary/"),
]
# Words of a question that must not reach the query: each query term gets a trailing
# wildcard, so a stop word would match every word it starts ("or" -> "order").
STOP_WORDS = ["or", "is", "in", "the", "what", "how"]


def _needed(tool: str, why: str) -> str:
    found = shutil.which(tool)
    if found is None:
        reason = f"{tool} is not installed: {why}"
        if IN_CI:
            pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
        pytest.skip(reason)
    return found


def run_search(site: Path, queries: list[str]) -> dict[str, list[str]]:
    """The pages (URL paths, best first) the site's own search lists for each query."""
    node = _needed("node", "it runs the site's search worker")
    done = subprocess.run(
        [node, str(SEARCH_RUNNER)], input=json.dumps({"site": str(site), "queries": queries}),
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"the search runner failed:\n{done.stderr}"
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def search_results(site: Path) -> dict[str, list[str]]:
    queries = [query for query, _ in READER_QUERIES] + STOP_WORDS + ["order"]
    return run_search(site, queries)


# -- search ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("query", "page"), READER_QUERIES, ids=[q for q, _ in READER_QUERIES])
def test_search_lists_the_page_that_answers(search_results: dict[str, list[str]], site: Path,
                                            query: str, page: str) -> None:
    assert (site / page / "index.html").is_file(), f"no page {page} in the build: update READER_QUERIES"
    found = search_results[query]
    assert page in found[:3], (
        f"searching {query!r} should list {page} among the first three results; it lists "
        f"{found[:5]}{' and more' if len(found) > 5 else ''}"
        f"{f' ({page} is number {found.index(page) + 1})' if page in found else f' ({page} not at all)'}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("word", STOP_WORDS)
def test_search_ignores_a_stop_word(search_results: dict[str, list[str]], word: str) -> None:
    assert search_results["order"], "searching 'order' finds nothing: the search itself is broken"
    assert search_results[word] == [], (
        f"searching the stop word {word!r} alone lists pages (it matches the words it starts): "
        f"{search_results[word][:5]}"
    )


INDEX_BUDGET = 300_000  # bytes of search/search_index.json, which every page fetches


@pytest.mark.slow
def test_the_search_index_is_light(site: Path) -> None:
    """Code listings and outputs are out of the index, and prose is in it once per page
    (pylive/search.py); the searches above show that readers still find their pages."""
    path = site / "search" / "search_index.json"
    size = path.stat().st_size
    docs = json.loads(path.read_text(encoding="utf-8"))["docs"]
    texts = " ".join(doc["text"] + " " + doc.get("words", "") for doc in docs)
    assert "<pre>" not in texts and "Output · " not in texts, "code listings or outputs are in the index"
    assert size <= INDEX_BUDGET, f"the search index weighs {size / 1000:.0f} KB, over {INDEX_BUDGET / 1000:.0f} KB"


def test_the_light_index_keeps_every_word_of_a_page() -> None:
    from pylive import search

    separator = r"[\s\-,:;?()\"'`/|{}]+|\.(?!\d)|&(?:[lg]t|amp|quot|#39);|\b(?:a|is|the)\b"
    index = {"config": {"separator": separator, "fields": {"title": {"boost": 1000.0}}}, "docs": [
        {"location": "p/", "title": "Names", "text": "<p>A name is a <code>reference</code>; the names share.</p>",
         "tags": ["alias"]},
        {"location": "p/#objects", "title": "Objects", "text": "<p>The reference is counted: sys.getrefcount &amp; 3.12</p>",
         "tags": ["alias"]},
        {"location": "q/", "title": "Other", "text": "<p>reference</p>"},
    ]}
    light = search.lighten(index)
    assert light["config"]["fields"]["words"] == {"boost": 1.0}
    page, section, other = light["docs"]
    assert page["text"].startswith("A name is a reference") and page["tags"] == ["alias"]
    assert page["words"].split() == ["name", "reference", "share"]  # "names" is the title's
    # a word already indexed on the page is not repeated; the section keeps its new ones
    assert section["text"] == "" and "tags" not in section
    assert section["words"].split() == ["counted", "sys", "getrefcount", "3.12"]
    assert other["words"] == "reference", "another page indexes its own words"


# -- the glossary ---------------------------------------------------------------------------


@pytest.mark.slow
def test_glossary_links_each_term_to_the_page_that_teaches_it(site: Path) -> None:
    html = (site / "glossary" / "index.html").read_text(encoding="utf-8")
    entries = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", html, flags=re.S)
    assert len(entries) >= 15, f"the glossary has {len(entries)} entries"
    unlinked = [re.sub(r"<[^>]+>", "", term) for term, body in entries
                if not re.search(r'<a href="\.\./[^"#]+', body)]
    assert not unlinked, f"glossary entries that link to no page of the site: {unlinked}"
    wanted = ["Bytecode", "Code object", "Frame", "Cell", "Reference count", "Immortal object",
              "Interning", "GIL", "Specialization", "Free-threaded build", "WebAssembly build",
              "Small-int cache", "pyc file", "Import system", "Virtual environment"]
    terms = " | ".join(re.sub(r"<[^>]+>", "", term) for term, _ in entries)
    missing = [w for w in wanted if w not in terms]
    assert not missing, f"terms missing from the glossary: {missing} (it has: {terms})"


def _abbreviation(html: str, term: str) -> str | None:
    found = re.search(rf'<abbr title="([^"]+)">{re.escape(term)}</abbr>', html)
    return found[1] if found else None


def _prose_mentions(html: str, word: str) -> bool:
    """Whether `word` is in a paragraph's text, outside code."""
    for paragraph in re.findall(r"<p>(.*?)</p>", html, flags=re.S):
        text = re.sub(r"<code>.*?</code>", "", paragraph, flags=re.S)
        if re.search(rf"\b{word}\b", re.sub(r"<[^>]+>", "", text)):
            return True
    return False


@pytest.mark.slow
def test_terms_carry_their_definition_on_every_page(site: Path) -> None:
    """The abbreviations are appended site-wide: every page that says 'bytecode' in its
    prose defines it there."""
    pages = [p for p in html_pages(site) if "labs" not in p.relative_to(site).parts]
    with_term = [p for p in pages if _prose_mentions(p.read_text(encoding="utf-8"), "bytecode")]
    assert len(with_term) >= 5, f"only {len(with_term)} pages say 'bytecode' in their prose"
    undefined = [page_url(site, p) for p in with_term
                 if _abbreviation(p.read_text(encoding="utf-8"), "bytecode") is None]
    assert not undefined, f"pages where 'bytecode' has no definition: {undefined}"


@pytest.mark.slow
def test_hovering_a_term_shows_its_definition(browser: object, serve: object, site: Path) -> None:
    html = (site / "running" / "pipeline" / "index.html").read_text(encoding="utf-8")
    definition = _abbreviation(html, "bytecode")
    assert definition, "running/pipeline/ defines no 'bytecode' abbreviation"
    reader = Reader(browser, serve("/"))
    try:
        visit = reader.open("/running/pipeline/")
        page = reader.page
        term = page.locator("article abbr", has_text="bytecode").first
        term.scroll_into_view_if_needed()
        term.hover()
        tooltip = page.get_by_role("tooltip").filter(has_text=definition[:40])
        tooltip.first.wait_for(state="visible", timeout=10_000)
        shown = tooltip.first.inner_text()
    finally:
        reader.close()
    assert definition[:40] in shown, f"the tooltip shows {shown!r}, not the definition {definition!r}"
    assert not (visit.other_hosts or visit.failed or visit.console_errors), visit


# -- llms.txt and the Markdown copies -------------------------------------------------------


@pytest.mark.slow
def test_llms_txt_lists_a_markdown_copy_of_every_page(site: Path) -> None:
    llms = site / "llms.txt"
    assert llms.is_file(), "no llms.txt in the built site"
    listed = llms.read_text(encoding="utf-8")
    assert (site / "llms-full.txt").is_file(), "no llms-full.txt in the built site"
    problems = []
    for built in html_pages(site):
        copy = built.with_suffix(".md")
        url = page_url(site, built)
        if not copy.is_file() or not copy.read_text(encoding="utf-8").strip():
            problems.append(f"{url}: no Markdown copy ({copy.relative_to(site)})")
        elif f"/{url}index.md)" not in listed and not (url == "" and "/index.md)" in listed):
            problems.append(f"{url}: not listed in llms.txt")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_markdown_copy_holds_the_executed_output(site: Path) -> None:
    """The dis listing on the code objects page exists only in the build's output: its
    instruction lines are in the Markdown copy and not in the page's source."""
    copy = (site / "running" / "code-objects-and-dis" / "index.md").read_text(encoding="utf-8")
    source = (DOCS / "running" / "code-objects-and-dis.md").read_text(encoding="utf-8")
    listing = re.compile(r"^\s*(?:\d+\s+)?(?:L\d+:?\s+)?(?:LOAD|STORE|RETURN|RESUME|BINARY|CALL)_?[A-Z_]*\b.*\S")
    output_only = [line for line in copy.splitlines() if listing.match(line) and line.strip() not in source]
    assert output_only, "the Markdown copy of running/code-objects-and-dis/ shows no dis listing of its own"
    assert "```" in copy, "the Markdown copy has no code blocks"


# -- last change ----------------------------------------------------------------------------


def _last_commit(src: Path) -> datetime | None:
    """The last commit that changed src, found as the plugin finds it (following renames,
    which also leaves out merge commits)."""
    done = subprocess.run(["git", "log", "-1", "--format=%at", "--follow", "--", str(src)],
                          cwd=ROOT, capture_output=True, text=True)
    stamp = done.stdout.strip()
    return datetime.fromtimestamp(int(stamp), timezone.utc) if done.returncode == 0 and stamp else None


@pytest.mark.slow
def test_every_page_says_when_it_last_changed(site: Path) -> None:
    stamp = re.compile(r'class="git-revision-date-localized-plugin[^"]*" title="([^"]+)">([^<]+)<')
    missing = [page_url(site, p) for p in html_pages(site) if not stamp.search(p.read_text(encoding="utf-8"))]
    assert not missing, f"pages without a last-change date: {missing}"
    html = (site / "about" / "index.html").read_text(encoding="utf-8")
    assert "timeago" not in html, "the date must be plain text (no timeago script)"
    committed = _last_commit(DOCS / "about.md")
    if committed is None:
        pytest.skip("docs/about.md has no git history here: the build date stands in")
    title, shown = stamp.search(html).groups()
    when = datetime.strptime(title, "%B %d, %Y %H:%M:%S %Z").replace(tzinfo=timezone.utc)
    assert when == committed, f"about/ says {title}, git's last commit of docs/about.md is {committed}"
    assert shown == f"{committed:%B} {committed.day}, {committed.year}", shown


@pytest.mark.slow
def test_every_page_with_outputs_says_when_and_by_what_they_were_produced(site: Path) -> None:
    stamp = re.compile(r'<p class="pylive-page-stamp"[^>]*><small>The outputs on this page were produced '
                       r"(?:on|between) [^<]+ \(UTC\) by ([^<]+)\.</small>")
    with_outputs = [p for p in html_pages(site) if "Output · " in p.read_text(encoding="utf-8")]
    missing = [page_url(site, p) for p in with_outputs if not stamp.search(p.read_text(encoding="utf-8"))]
    assert with_outputs and not missing, f"pages with outputs but no stamp: {missing}"
    frames = stamp.search((site / "running" / "frames" / "index.html").read_text(encoding="utf-8"))[1]
    assert "CPython 3.10" in frames and "CPython 3.13" in frames, f"running/frames/ ran under every version: {frames}"
    # The stamp is about the page, not its subject: search does not index it.
    index = (site / "search" / "search_index.json").read_text(encoding="utf-8")
    assert "outputs on this page were produced" not in index
