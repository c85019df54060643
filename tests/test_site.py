"""The built site, tested as a reader uses it.

The whole site is built once per session with `mkdocs build --strict` into a temporary
folder; every other test here reads that build:

* the HTML: every internal link and anchor resolves, no link to docs.python.org/2, and
  each page's "Edit this page" link points to its own source file;
* in headless Chromium (Debian's /usr/bin/chromium driven by Playwright; no browser is
  ever downloaded), with every request to another host than 127.0.0.1 aborted and
  recorded: each page loads with no failed request, no request to another host, no
  console error, no serious or critical axe-core violation (light and dark palettes), and
  within its weight budget; search finds the bytecode page; the palette toggles; code
  blocks have a copy button; and the site works when served from a sub-path (/site/).

Browser tests skip when Chromium, Playwright or npm (for axe-core) is missing, unless
the environment variable CI is set: then they fail.
"""

from __future__ import annotations

import atexit
import functools
import gzip
import json
import os
import posixpath
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from conftest import DOCS, IN_CI, ROOT, Build, check_repository_unchanged

AXE_VERSION = "4.14.1"  # axe-core, from the npm registry, installed into .cache/npm (git-ignored)
NPM_PREFIX = ROOT / ".cache" / "npm"
CHROMIUM_FLAGS = [  # as root, on a machine whose only network is the package registries
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Total transfer of one page loaded with an empty cache (HTML, CSS, JS, search index, images).
# Text is sent gzip-compressed, as static hosts do; the search index, loaded by every page,
# is most of an ordinary page's weight and grows with the site.
PAGE_BUDGET = 600_000  # bytes, for any page, lab pages included (pylive/labs.py keeps them light)


def _missing(reason: str) -> None:
    """A tool the browser tests need is missing: a skip locally, a failure in CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping; .ci/run installs it)")
    pytest.skip(reason)


# -- the build (the `build` and `site` fixtures are in conftest.py) -----------------------


@pytest.mark.slow
def test_strict_build(build: Build, capsys: pytest.CaptureFixture) -> None:
    ran = re.search(r"pylive: ran (\d+) examples", build.output)
    with capsys.disabled():
        print(f"\nmkdocs build --strict: {build.seconds:.1f} s, {ran[1] if ran else '?'} examples run")
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.output}"
    assert (build.out / "index.html").is_file()
    assert "pylive: ran" in build.output, "the pylive plugin did not run"


@pytest.mark.slow
def test_build_writes_nothing_into_the_repository(build: Build) -> None:
    assert build.site_folder_after == build.site_folder_before, "the build wrote into site/ of the repository"
    check_repository_unchanged(build.status_before, build.status_after, "the strict build")


# -- the built HTML -----------------------------------------------------------------------


class _PageParser(HTMLParser):
    """Collects a page's ids and the URLs it refers to (a, link, script, img...)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str]] = []  # (tag, url)
        self.edit_links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"])
        if tag == "a" and found.get("name"):
            self.ids.add(found["name"])
        for attribute in ("href", "src"):
            if found.get(attribute):
                self.refs.append((tag, found[attribute]))
        if tag == "a" and found.get("rel") == "edit" and found.get("href"):
            self.edit_links.append(found["href"])


@functools.cache
def _parse(path: Path) -> _PageParser:
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def _config() -> dict:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)


def _site_path_prefix() -> str:
    """`/site/` for site_url https://host/site/: where the hosted site lives."""
    return urlsplit(_config().get("site_url") or "/").path.rstrip("/") + "/"


def html_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if p.name != "404.html")


def page_url(site: Path, page: Path) -> str:
    """The URL path of a built page: `running/pipeline/` for running/pipeline/index.html."""
    rel = page.relative_to(site).as_posix()
    return rel[: -len("index.html")] if rel.endswith("index.html") else rel


def _target_file(site: Path, page: Path, url: str, prefix: str) -> tuple[Path | None, str]:
    """The file of `url` as referred to from `page`, and its fragment; None when the URL
    leaves the site (another host, or an absolute path outside the site's prefix)."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None, ""
    path = unquote(parts.path)
    if path.startswith("/"):
        if not path.startswith(prefix):
            return site / "__outside_the_site__" / path.lstrip("/"), parts.fragment
        resolved = path[len(prefix):]
    elif not path:
        return page, unquote(parts.fragment)
    else:
        resolved = posixpath.join(posixpath.dirname(page.relative_to(site).as_posix()), path)
    resolved = posixpath.normpath(resolved)
    if resolved.startswith(".."):
        return site / "__outside_the_site__" / resolved, parts.fragment
    target = site / resolved if resolved != "." else site
    if target.is_dir() or path.endswith("/"):
        target = target / "index.html"
    return target, unquote(parts.fragment)


@pytest.mark.slow
def test_every_internal_link_and_anchor_resolves(site: Path) -> None:
    prefix = _site_path_prefix()
    problems = []
    for page in [*html_pages(site), site / "404.html"]:
        for tag, url in _parse(page).refs:
            target, fragment = _target_file(site, page, url, prefix)
            if target is None:
                continue
            where = page.relative_to(site).as_posix()
            if not target.is_file():
                problems.append(f"{where}: <{tag}> {url} -> no file {target.relative_to(site)}")
            elif fragment and target.suffix == ".html" and fragment not in _parse(target).ids:
                problems.append(f"{where}: <{tag}> {url} -> no id {fragment!r} in {target.relative_to(site)}")
    assert not problems, f"{len(problems)} broken internal link(s):\n" + "\n".join(problems)


@pytest.mark.slow
def test_no_link_to_python_2_docs(site: Path) -> None:
    python2 = re.compile(r"^(https?:)?//docs\.python\.org/2(\.\d+)?(/|$)")
    found = [
        f"{page.relative_to(site)}: {url}"
        for page in html_pages(site)
        for _, url in _parse(page).refs
        if python2.match(url)
    ]
    assert not found, "links to the Python 2 docs (link the Python 3 docs instead):\n" + "\n".join(found)


def _built_page_of(src: str) -> str:
    """The built page of a docs source: `running/pipeline.md` -> `running/pipeline/index.html`."""
    stem, folder = posixpath.splitext(posixpath.basename(src))[0], posixpath.dirname(src)
    if stem in ("index", "README"):
        return posixpath.join(folder, "index.html")
    return posixpath.join(folder, stem, "index.html")


@pytest.mark.slow
def test_edit_links_point_to_the_page_source(site: Path) -> None:
    sources = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*") if p.suffix in (".md", ".ipynb"))
    problems, checked = [], 0
    for src in sources:
        built = site / _built_page_of(src)
        if not built.is_file():
            continue  # not part of the build (say, excluded); strict mode reports pages it lacks
        edits = _parse(built).edit_links
        checked += 1
        if not edits:
            problems.append(f"{built.relative_to(site)} (from docs/{src}) has no edit link")
        elif not all(link.endswith(f"docs/{src}") for link in edits):
            problems.append(f"{built.relative_to(site)}: edit link {edits[0]} does not end with docs/{src}")
    assert checked, "no page of docs/ was found in the build"
    assert not problems, "\n".join(problems)


# -- serving the site ---------------------------------------------------------------------

# What a static host (GitHub Pages among them) sends gzip-compressed.
COMPRESSED_TYPES = ("text/", "application/javascript", "application/json", "application/xml", "image/svg+xml")


class _Handler(SimpleHTTPRequestHandler):
    """The built site's files under `prefix` (nothing outside it), gzip-compressed as a
    static host sends them; counts the bytes it sends (headers included) and their size."""

    prefix = "/"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        server, raw = self.server, self.wfile

        class Counting:
            def write(self, data: bytes) -> int:
                server.count(sent=len(data))
                return raw.write(data)

            def __getattr__(self, name: str) -> object:
                return getattr(raw, name)

        self.wfile = Counting()  # type: ignore[assignment]

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0].split("#", 1)[0]
        if not clean.startswith(self.prefix):
            return str(Path(self.directory) / "__outside_the_prefix__")
        return super().translate_path("/" + clean[len(self.prefix):])

    def do_GET(self) -> None:
        file = Path(self.translate_path(self.path))
        if file.is_dir():
            if not urlsplit(self.path).path.endswith("/"):
                return super().do_GET()  # the redirect to the folder's URL
            file = file / "index.html"
        if not file.is_file():
            return self.send_error(404, "File not found")
        body = file.read_bytes()
        self.server.count(size=len(body))
        kind = self.guess_type(str(file))
        self.send_response(200)
        self.send_header("Content-Type", kind)
        if kind.startswith(COMPRESSED_TYPES) and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = self.server.gzipped(file, body)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: Path, prefix: str) -> None:
        handler = type("Handler", (_Handler,), {"prefix": prefix})
        super().__init__(("127.0.0.1", 0), functools.partial(handler, directory=str(site)))
        self.lock = threading.Lock()
        self.sent = self.size = 0
        self._gzipped: dict[Path, bytes] = {}

    def gzipped(self, file: Path, body: bytes) -> bytes:
        if file not in self._gzipped:
            self._gzipped[file] = gzip.compress(body, compresslevel=6, mtime=0)
        return self._gzipped[file]

    def count(self, sent: int = 0, size: int = 0) -> None:
        with self.lock:
            self.sent += sent
            self.size += size

    def take_counts(self) -> tuple[int, int]:
        """Bytes sent and bytes of files served since the last call."""
        with self.lock:
            counts, self.sent, self.size = (self.sent, self.size), 0, 0
        return counts

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> _Server:
        """Serve in a thread of its own."""
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


@pytest.fixture(scope="session")
def serve(site: Path) -> Iterator:
    """`serve(prefix)`: the built site on a free port of 127.0.0.1, under `prefix`."""
    servers: dict[str, _Server] = {}

    def start(prefix: str = "/") -> _Server:
        if prefix not in servers:
            servers[prefix] = _Server(site, prefix).start()
        return servers[prefix]

    yield start
    for server in servers.values():
        server.stop()


# -- the browser --------------------------------------------------------------------------


def chromium_executable() -> str | None:
    named = os.environ.get("PYLIVE_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


_LAUNCHED: list = []  # [playwright, browser]: one for the whole run


def _close_browser() -> None:
    try:
        _LAUNCHED[1].close()
        _LAUNCHED[0].stop()
    except Exception:  # noqa: BLE001 - the run is over; nothing is left to report to
        pass


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One Chromium for the whole run, also for other modules that import this fixture (a
    second Playwright in the same thread would fail: its event loop is already running)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright's Python package is not installed (pip install -r requirements.txt)")
    executable = chromium_executable()
    if executable is None:
        _missing("Chromium is not installed (Debian: apt-get install chromium; or set PYLIVE_CHROMIUM)")
    if not _LAUNCHED:
        playwright = sync_playwright().start()
        # launch() runs the browser with a fresh, temporary user-data-dir of its own.
        _LAUNCHED[:] = [playwright, playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS,
                                                               headless=True)]
        atexit.register(_close_browser)
    yield _LAUNCHED[1]


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, installed once from the npm registry into .cache/npm."""
    package = NPM_PREFIX / "node_modules" / "axe-core"
    installed = package / "package.json"
    if not installed.is_file() or json.loads(installed.read_text())["version"] != AXE_VERSION:
        npm = shutil.which("npm")
        if npm is None:
            _missing("npm is not installed: it installs axe-core for the accessibility test")
        done = subprocess.run(
            [npm, "install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
             "--prefix", str(NPM_PREFIX), f"axe-core@{AXE_VERSION}"],
            capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, f"npm could not install axe-core@{AXE_VERSION}:\n{done.stderr}"
    return (package / "axe.min.js").read_text(encoding="utf-8")


@dataclass
class Visit:
    """What one page load did."""

    url: str
    other_hosts: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    sent: int = 0
    size: int = 0
    requests: int = 0


class Reader:
    """A browser context (empty cache: route interception turns the HTTP cache off) whose
    every request to another host is aborted and recorded; notes failed requests and
    console errors of the page being visited."""

    def __init__(self, browser: object, server: _Server, init_script: str = "", **options: object) -> None:
        self.server = server
        self.origin = urlsplit(server.origin).netloc
        self.context = browser.new_context(**options)
        if init_script:
            self.context.add_init_script(init_script)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.visit = Visit("")
        page = self.page
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.visit.console_errors.append(f"uncaught {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", lambda r: r.status >= 400 and self.visit.failed.append(f"{r.url} (HTTP {r.status})"))

    def _route(self, route: object) -> None:
        url = route.request.url
        if urlsplit(url).netloc != self.origin:
            self.visit.other_hosts.append(url)
            route.abort("blockedbyclient")
        else:
            self.visit.requests += 1
            route.continue_()

    def _console(self, message: object) -> None:
        # A request this test aborted is reported by test_no_request_to_another_host.
        if message.type == "error" and "ERR_BLOCKED_BY_CLIENT" not in message.text:
            self.visit.console_errors.append(message.text)

    def _failed(self, request: object) -> None:
        if urlsplit(request.url).netloc == self.origin:
            self.visit.failed.append(f"{request.url} ({request.failure})")

    def open(self, path: str) -> Visit:
        """Load `path` and wait until the network is idle; what the load did."""
        self.start(path)
        return self.finish()

    def show(self, path: str) -> None:
        """Load `path` until it is laid out as a reader sees it (its fonts too), without waiting
        for the network to fall idle: for tests that measure the page, not what it fetched."""
        self.start(path)
        self.page.wait_for_load_state("load")
        self.page.evaluate("document.fonts.ready.then(() => true)")

    def start(self, path: str) -> None:
        """Start loading `path` (the browser goes on loading it while the test does more)."""
        self.visit = Visit(path)
        self.server.take_counts()
        self.page.goto(self.server.origin + path, wait_until="commit")

    def finish(self) -> Visit:
        """Wait until the page started has loaded and the network is idle; what the load did."""
        self.page.wait_for_load_state("load")
        self.page.wait_for_load_state("networkidle")
        self.visit.sent, self.visit.size = self.server.take_counts()
        return self.visit

    def close(self) -> None:
        self.context.close()


AXE_RUN = """async ([rules]) => {
  const options = rules ? {runOnly: rules} : {resultTypes: ['violations']};
  const result = await axe.run(document, options);
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.impact} ${v.id}: ${v.help}, e.g. ${v.nodes[0].target.join(' ')}`
              + ` (${(v.nodes[0].any[0] || {message: ''}).message})`);
}"""
# AXE_RUN started in the page without waiting for it (on the page's next task: most of
# axe's work is synchronous), and its result once it is there: axe then checks several
# pages at once, each in its own renderer process.
AXE_START = (f"([rules]) => {{ window.__pyliveAxe = new Promise(go => setTimeout(go, 0))"
             f".then(() => ({AXE_RUN})([rules])); }}")
AXE_RESULT = "() => window.__pyliveAxe"
# The dark palette, as the toggle sets it, with transitions off so that axe reads final colours.
DARK = """() => {
  const still = document.createElement('style');
  still.textContent = '*, *::before, *::after { transition: none !important; animation: none !important; }';
  document.head.append(still);
  document.body.setAttribute('data-md-color-scheme', 'slate');
}"""


VISIT_LANES = 4  # pages loaded and checked at once: their waits overlap, and so does axe's work (3: 117 s, 4 and 5: 106 s)


@pytest.fixture(scope="session")
def visits(browser: object, site: Path, axe_source: str) -> dict[str, Visit]:
    """Every page loaded once with an empty cache, then checked by axe-core: the whole page
    in the light palette, and colour contrast again in the dark one. VISIT_LANES pages at a
    time, each lane a browser context with a server of its own (so that what a page
    transferred is counted for that page alone)."""
    servers = [_Server(site, "/").start() for _ in range(VISIT_LANES)]
    readers = [Reader(browser, server, init_script=axe_source, color_scheme="light") for server in servers]
    paths = ["/" + page_url(site, built) for built in html_pages(site)]
    found = {}
    try:
        for first in range(0, len(paths), VISIT_LANES):
            lanes = list(zip(readers, paths[first:first + VISIT_LANES]))
            for reader, path in lanes:
                reader.start(path)
            for reader, _ in lanes:
                reader.finish()
                reader.page.evaluate(AXE_START, [None])
            for reader, _ in lanes:
                reader.visit.violations += reader.page.evaluate(AXE_RESULT)
                reader.page.evaluate(DARK)
                reader.page.evaluate(AXE_START, [["color-contrast"]])
            for reader, _ in lanes:
                reader.visit.violations += [f"[dark palette] {v}" for v in reader.page.evaluate(AXE_RESULT)]
                found[reader.visit.url] = reader.visit
    finally:
        for reader in readers:
            reader.close()
        for server in servers:
            server.stop()
    return found


def _grouped(visits: dict[str, Visit], attribute: str) -> str:
    """Each problem once (an axe rule once, with its first example), with the pages it is on."""
    pages: dict[str, list[str]] = {}
    examples: dict[str, str] = {}
    for url, visit in visits.items():
        for item in dict.fromkeys(getattr(visit, attribute)):
            key, _, example = item.partition(", e.g. ")
            pages.setdefault(key, []).append(url)
            examples.setdefault(key, example)
    lines = []
    for key, urls in sorted(pages.items(), key=lambda entry: -len(entry[1])):
        shown = ", ".join(urls[:5]) + (f" and {len(urls) - 5} more" if len(urls) > 5 else "")
        example = f"\n    e.g. {examples[key][:400]}" if examples[key] else ""
        lines.append(f"- {key}{example}\n    on {len(urls)} page(s): {shown}")
    return "\n".join(lines)


PAGE_FAULTS = {  # what a page load must not show: Visit field -> what it means
    "other_hosts": "requests to another host (the site must work offline)",
    "failed": "failed requests",
    "console_errors": "console errors",
    "violations": f"axe-core {AXE_VERSION}: serious or critical accessibility violations",
}


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("fault", PAGE_FAULTS)
def test_no_page_shows(visits: dict[str, Visit], fault: str) -> None:
    found = _grouped(visits, fault)
    assert not found, f"{PAGE_FAULTS[fault]}:\n{found}"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_page_weight(visits: dict[str, Visit], tmp_path_factory: pytest.TempPathFactory,
                     capsys: pytest.CaptureFixture) -> None:
    """Each page's total transfer with an empty cache (text gzip-compressed, as static hosts
    send it), against the budget."""
    rows, over = [], []
    for url, visit in sorted(visits.items(), key=lambda item: -item[1].sent):
        rows.append(f"{visit.sent / 1000:9.1f} KB {visit.size / 1000:10.1f} KB {visit.requests:5d} "
                    f"{PAGE_BUDGET / 1000:8.0f} KB  {url}")
        if visit.sent > PAGE_BUDGET:
            over.append(f"{url}: {visit.sent / 1000:.1f} KB > {PAGE_BUDGET / 1000:.0f} KB")
    table = "\n".join([
        "Page weight: each page loaded with an empty cache",
        f"{'transfer':>12} {'unzipped':>13} {'reqs':>5} {'budget':>11}  page",
        *rows,
        f"{len(visits)} pages; budget {PAGE_BUDGET / 1000:.0f} KB",
    ])
    report = tmp_path_factory.mktemp("weight") / "page-weight.txt"
    report.write_text(table + "\n", encoding="utf-8")
    with capsys.disabled():
        print(f"\n{table}\n(written to {report})")
    assert not over, "pages over their weight budget:\n" + "\n".join(over)


# -- what a reader does -------------------------------------------------------------------

BYTECODE_PAGES = ("running/pipeline/", "running/code-objects-and-dis/")


def _search(page: object, query: str) -> list[str]:
    """Type `query` into the search box; the pages the results link to (URL paths)."""
    box = page.locator("input.md-search__input")
    box.click()
    box.press_sequentially(query, delay=20)
    results = page.locator(".md-search-result__item a")
    results.first.wait_for(state="attached", timeout=15_000)
    return [urlsplit(link.get_attribute("href")).path for link in results.all()]


@pytest.mark.slow
def test_search_finds_the_bytecode_page(browser: object, serve: object) -> None:
    reader = Reader(browser, serve("/"))
    try:
        visit = reader.open("/")
        found = _search(reader.page, "bytecode")
    finally:
        reader.close()
    assert any(path.endswith(BYTECODE_PAGES) for path in found), (
        f"searching 'bytecode' did not list {' or '.join(BYTECODE_PAGES)}: {found}"
    )
    assert not (visit.failed or visit.console_errors), visit


@pytest.mark.slow
def test_palette_toggles_to_dark_and_back(browser: object, serve: object) -> None:
    reader = Reader(browser, serve("/"), color_scheme="light")
    try:
        reader.open("/")
        page, scheme = reader.page, "document.body.getAttribute('data-md-color-scheme')"
        assert page.evaluate(scheme) == "default"
        # By the input each label switches to: Material's tooltips move a label's title.
        page.locator("label[for='__palette_1']").click()
        page.wait_for_function(f"{scheme} === 'slate'")
        page.locator("label[for='__palette_0']").click()
        page.wait_for_function(f"{scheme} === 'default'")
    finally:
        reader.close()


@pytest.mark.slow
def test_code_block_has_a_copy_button(browser: object, serve: object) -> None:
    reader = Reader(browser, serve("/"), permissions=["clipboard-read", "clipboard-write"])
    try:
        reader.open("/")
        page = reader.page
        copy = "button[data-md-type='copy'], button.md-clipboard"  # Material 9.7+, and before
        block = page.locator(f"pre:has({copy})").first
        block.wait_for(state="attached", timeout=10_000)
        expected = block.locator("code").inner_text()
        block.hover()
        block.locator(copy).first.click()
        copied = page.evaluate("navigator.clipboard.readText()")
    finally:
        reader.close()
    assert copied.strip() == expected.strip(), "the copy button did not copy the code"


@pytest.mark.slow
def test_site_works_from_a_sub_path(browser: object, serve: object) -> None:
    """As on a project's hosted pages: the site under /site/ of its host, nothing outside it."""
    reader = Reader(browser, serve("/site/"))
    problems: list[str] = []
    try:
        for path in ["/site/", "/site/running/", "/site/404.html"]:
            visit = reader.open(path)
            page = reader.page
            if page.evaluate("getComputedStyle(document.querySelector('.md-header')).position") != "sticky":
                problems.append(f"{path}: the theme's stylesheet did not apply")
            if path == "/site/":
                found = _search(page, "bytecode")
                if not any(p.startswith("/site/") and p.endswith(BYTECODE_PAGES) for p in found):
                    problems.append(f"{path}: search did not list the bytecode page under /site/: {found}")
            if path == "/site/running/":  # instant navigation, by a link in the page
                page.locator(".md-content a[href$='pipeline/']").first.click()
                page.wait_for_url(re.compile(r"/site/running/pipeline/$"))
                page.wait_for_load_state("networkidle")
            problems += [f"{path}: {item}" for item in visit.failed + visit.other_hosts + visit.console_errors]
    finally:
        reader.close()
    assert not problems, "\n".join(problems)



# Every tab set of the page: its labels as a reader reads them, and the one chosen.
TAB_SETS = """() => Array.from(document.querySelectorAll('.tabbed-set')).map(set => {
  const inputs = Array.from(set.querySelectorAll(':scope > input'));
  const label = input => set.querySelector(`label[for="${input.id}"]`).textContent.trim();
  return {labels: inputs.map(label), chosen: inputs.filter(input => input.checked).map(label)[0]};
})"""
CHOSEN_EVERYWHERE = f"label => ({TAB_SETS})().every(set => !set.labels.includes(label) || set.chosen === label)"
VERSION_LABEL = re.compile(r"^\d+\.\d+( · .+)?$")  # 3.12, and 3.14 · WebAssembly where it names its runtime


def _choose_tab(page: object, label: str) -> list[dict]:
    """Click the tab `label` in the first tab set that shows it; then every tab set, once
    the others followed (or after 5 s, for the assertion to show which did not)."""
    page.locator(".tabbed-set .tabbed-labels > label:visible").filter(
        has_text=re.compile(f"^{re.escape(label)}$")).first.click()
    try:
        page.wait_for_function(CHOSEN_EVERYWHERE, arg=label, timeout=5_000)
    except Exception:  # noqa: BLE001 - Playwright's TimeoutError; the caller's assertion says what is wrong
        pass
    return page.evaluate(TAB_SETS)


@pytest.mark.slow
@pytest.mark.parametrize("path, folded", [
    ("running/code-objects-in-depth/", False),  # several versions="all" blocks whose outputs differ
    ("types/booleans-and-none/", True),  # one of them folded by predict= (a closed <details>)
])
def test_choosing_a_version_tab_chooses_it_in_every_tab_set(browser: object, serve: object, path: str,
                                                             folded: bool) -> None:
    """Material's content.tabs.link: a version chosen in one block is chosen in all, for the
    plain labels (3.12) and for those that name their runtime (3.14 · WebAssembly)."""
    reader = Reader(browser, serve("/"))
    try:
        reader.open("/" + path)
        page = reader.page
        sets = [s for s in page.evaluate(TAB_SETS) if all(VERSION_LABEL.match(label) for label in s["labels"])]
        assert len(sets) >= 2, f"{path}: fewer than two version tab sets: {sets}"
        if folded:
            assert page.locator("details.pylive-answer:not([open]) .tabbed-set").count(), f"{path}: no tabs in a fold"
        shared = [label for label in sets[0]["labels"] if all(label in s["labels"] for s in sets)]
        plain = [label for label in shared if "·" not in label]
        named = [label for label in shared if "·" in label]  # where the build runs a version on WebAssembly
        assert plain, f"{path}: no version label is shared by every tab set: {sets}"
        for label in [plain[-1], *named[-1:], plain[0]]:  # away from the first tab, and back
            after = _choose_tab(page, label)
            stuck = [s for s in after if label in s["labels"] and s["chosen"] != label]
            assert not stuck, f"{path}: choosing {label!r} left these tab sets on another tab: {stuck}"
        if folded:  # a later visit: Material remembers the tab; a fold takes it when it opens
            _choose_tab(page, plain[-1])
            reader.open("/" + path)
            fold = page.locator("details.pylive-answer:has(.tabbed-set)").first
            fold.locator("summary").click()
            page.wait_for_function("fold => fold.open", arg=fold.element_handle(), timeout=5_000)
            chosen = [s["chosen"] for s in page.evaluate(TAB_SETS) if plain[-1] in s["labels"]]
            assert set(chosen) == {plain[-1]}, f"{path}: on a later visit, with the fold open, the tabs chose {chosen}"
        assert not reader.visit.console_errors, reader.visit.console_errors
    finally:
        reader.close()


@pytest.mark.slow
def test_a_folded_output_opens_from_the_keyboard(browser: object, serve: object) -> None:
    """predict=: the summary "Show what Python printed" takes the focus and Enter opens it."""
    reader = Reader(browser, serve("/"))
    try:
        reader.open("/types/lists/")
        page = reader.page
        fold = page.locator("details.pylive-answer").first
        assert fold.locator("pre").first.is_hidden(), "the output shows before the reader asked for it"
        summary = fold.locator("summary")
        summary.focus()
        assert page.evaluate("document.activeElement.tagName") == "SUMMARY", "the summary cannot take the focus"
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.querySelector('details.pylive-answer').open", timeout=5_000)
        assert fold.locator("pre").first.is_visible(), "Enter opened the fold but its output is not shown"
        assert "Output · " in fold.inner_text(), "the folded output lost its runtime label"
    finally:
        reader.close()
