"""Run it yourself: the reader's own runs of the examples, and the bytecode playground.

The site ships its own copy of CPython on WebAssembly (pylive/browser.py) and a page script
that adds Edit, Run and Reset under every example (docs/assets/live/live.js). Tested on a
small site built here, and on the one strict build of the real site in headless Chromium
with every request to another host aborted (the Reader of test_site.py):

* the runtime's files are the pinned npm packages' own, and the Python that runs an
  example is the build's own;
* a page loads nothing of the runtime until Run, and the controls add at most 5 % to its
  transfer;
* Run on an example whose 3.14 output the build shows prints exactly that output; an edit
  and a second Run print what the engine prints for the new code; Reset restores the
  example; a transcript runs statement by statement; a run that hangs is stopped and the
  next Run works; all by keyboard, with no console error and no request to another host;
* the controls work after Material's instant navigation and fit a phone's width, and
  axe-core finds no serious violation in either palette once they are used;
* an example that needs what the browser lacks says so instead of offering Run;
* the playground shows the `dis` listings of 3.14 and 3.15 as the engine prints them, and
  its link carries the code.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import IN_CI, ROOT, version_matrix
from pylive import browser as shipping
from pylive import engine

sys.path.insert(0, str(Path(__file__).parent))
from test_site import AXE_RUN, DARK, Reader, _config, axe_source, browser, html_pages, page_url, serve  # noqa: E402,F401

RUN_TIMEOUT = 90_000  # ms for a first Run: the runtime's download and start on a busy machine
EXAMPLES_MINOR = "3.14"
# Labels of the build's outputs that CPython 3.14 on WebAssembly printed: what Run must print.
BUILT_BY_WASM = {"python": r"^Output · CPython 3\.14\.\d+\S* · WebAssembly$",
                 "pycon": r"^REPL · CPython 3\.14\.\d+\S* · WebAssembly$"}
# An edit: other bytecode, and a helper module of snippets/helpers, which the browser has too.
EDITED = ('import dis\nfrom refdiagram import draw\n\ndis.dis(compile("total = price * count + 1", "<edited>", "exec"))\n'
          'print(draw.__name__, "from", draw.__module__)\n')
PLAYGROUND_CODE = "squares = [n * n for n in range(4)]\nprint(squares)\n"


def _interpreter(minor: str) -> engine.Interpreter:
    found = [i for i in version_matrix() if i.minor == minor]
    if not found:
        pytest.skip(f"this machine has no CPython {minor} to compare with")
    return found[0]


# -- what the build ships -------------------------------------------------------------------

SITE = """\
site_name: shipping test
hooks: [{hook}]
plugins: [{{pylive: {{pythonpath: [helpers]}}}}]
"""


def test_the_site_ships_the_pinned_runtimes_and_the_builds_own_runner(tmp_path: Path) -> None:
    if not (ROOT / "node_modules" / "pyodide-314").is_dir():
        if IN_CI:
            pytest.fail("node_modules lacks Pyodide (CI is set): run npm ci")
        pytest.skip("npm ci has not installed Pyodide")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Page\n")
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "drawing.py").write_text("WHAT = 'a helper'\n")
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    (tmp_path / "mkdocs.yml").write_text(SITE.format(hook=ROOT / "pylive" / "browser.py"))
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr
    built = tmp_path / "site"
    manifest = json.loads((built / "assets/live/runtimes.json").read_text())
    assert manifest["runtimes"] == {"3.14": "../pyodide/3.14/", "3.15": "../pyodide/3.15/"}
    assert manifest["helpers"] == ["drawing.py"]
    for minor, package in (("3.14", "pyodide-314"), ("3.15", "pyodide-315")):
        shipped = sorted(p.name for p in (built / "assets/pyodide" / minor).iterdir())
        assert shipped == sorted(shipping.RUNTIME_FILES), "only what a browser loads"
        for name in shipped:
            assert (built / "assets/pyodide" / minor / name).read_bytes() == (ROOT / "node_modules" / package / name).read_bytes()
    for name in shipping.PYTHON_FILES:
        assert (built / "assets/live" / name).read_bytes() == (ROOT / "pylive" / name).read_bytes()
    assert (built / "assets/live/helpers/drawing.py").read_text() == "WHAT = 'a helper'\n"


# -- in the browser -------------------------------------------------------------------------

FIND_EXAMPLE = """([kind, label, needs]) => {
  const blocks = [...document.querySelectorAll(`.pylive-live[data-pylive-kind=${kind}]`)];
  for (const [index, block] of blocks.entries()) {
    if (!new RegExp(needs).test(block.dataset.pyliveSource)) continue;
    for (const title of block.querySelectorAll('.filename')) {
      const shown = title.parentElement.querySelector('code');
      if (new RegExp(label).test(title.textContent.trim()) && shown && !/0x[0-9a-f]/.test(shown.textContent)) {
        return {index, expected: shown.textContent};
      }
    }
  }
  return null;
}"""


def _pages_with(site: Path, label: str) -> list[str]:
    """URL paths of the built pages that show an output with this label."""
    pattern = re.compile(label.strip("^$"))
    return ["/" + page_url(site, page) for page in html_pages(site) if pattern.search(page.read_text(encoding="utf-8"))]


def _example(reader: Reader, site: Path, kind: str, needs: str = "") -> tuple[str, int, str]:
    """A deterministic example (no address in its output) whose 3.14 output the build shows
    as printed on WebAssembly: its page, its index among the page's examples of its kind, and
    that output. `needs`: a pattern its code must match."""
    for path in _pages_with(site, BUILT_BY_WASM[kind]):
        reader.open(path)
        found = reader.page.evaluate(FIND_EXAMPLE, [kind, BUILT_BY_WASM[kind], needs])
        if found:
            return path, found["index"], found["expected"]
    message = f"no {kind} example of the site shows a deterministic output of CPython 3.14 on WebAssembly"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _block(reader: Reader, kind: str, index: int):  # -> playwright Locator
    return reader.page.locator(f".pylive-live[data-pylive-kind={kind}]").nth(index)


def _press(control, key: str = "Enter") -> None:
    """The keyboard, on a control that has the focus (as Tab would give it)."""
    control.focus()
    control.page.keyboard.press(key)


def _result(block, timeout: int = RUN_TIMEOUT) -> str:
    block.locator(".pylive-yours code").wait_for(timeout=timeout)
    return block.locator(".pylive-yours code").text_content()


def _wait_for_result(block, expected: str, timeout: int = RUN_TIMEOUT) -> None:
    from playwright.sync_api import TimeoutError as Timeout

    try:
        block.page.wait_for_function(
            "([block, expected]) => block.querySelector('.pylive-yours code')?.textContent === expected",
            arg=[block.element_handle(), expected], timeout=timeout)
    except Timeout:
        shown = block.locator(".pylive-yours code")
        status = block.locator(".pylive-status").text_content()
        pytest.fail(f"Run showed:\n{shown.text_content() if shown.count() else '(nothing)'}\n(status: {status})\n"
                    f"instead of:\n{expected}")


def _accessibility(reader: Reader) -> list[str]:
    """axe-core's serious and critical findings, in the light palette then the dark one."""
    found = reader.page.evaluate(AXE_RUN, [None])
    reader.page.evaluate(DARK)
    return found + [f"[dark] {v}" for v in reader.page.evaluate(AXE_RUN, [["color-contrast"]])]


def _faults(reader: Reader) -> list[str]:
    visit = reader.visit
    return ([f"request to another host: {u}" for u in visit.other_hosts] + [f"failed: {u}" for u in visit.failed]
            + [f"console: {e}" for e in visit.console_errors])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_run_edit_run_reset_by_keyboard(browser: object, serve: object, site: Path, axe_source: str) -> None:
    reader = Reader(browser, serve("/"), init_script=axe_source, color_scheme="light")
    try:
        path, index, expected = _example(reader, site, "python", needs=r"\bdis\b")
        reader.open(path)
        block = _block(reader, "python", index)
        original = block.get_attribute("data-pylive-source")
        source_shown = block.locator(".language-python.highlight").first
        edit, run = block.get_by_role("button", name="Edit"), block.get_by_role("button", name="Run")
        reset = block.get_by_role("button", name="Reset")

        _press(run)
        assert _result(block).rstrip("\n") == expected.rstrip("\n"), "Run did not print the build's 3.14 output"
        version = _interpreter(EXAMPLES_MINOR).version
        assert block.locator(".pylive-yours .filename").text_content() == f"your run · CPython {version} in your browser"

        _press(edit)
        editor = block.locator("textarea")
        assert editor.evaluate("e => e === document.activeElement"), "Edit puts the focus in the editor"
        assert editor.input_value() == original and not source_shown.is_visible(), "the code is edited in place"
        reader.page.keyboard.press("Control+A")
        reader.page.keyboard.insert_text(EDITED)
        reader.page.keyboard.press("Control+Enter")
        _wait_for_result(block, engine.run_script(EDITED, _interpreter(EXAMPLES_MINOR)).output.rstrip("\n"))
        problems = _accessibility(reader)

        _press(reset)
        assert editor.count() == 0 and block.locator(".pylive-yours").count() == 0 and source_shown.is_visible()
        assert edit.evaluate("e => e === document.activeElement"), "Reset gives the focus back to Edit"

        # A run that hangs is stopped; the next Run starts a fresh runtime.
        _press(edit)
        editor.fill("while True:\n    pass\n")
        _press(run)
        block.locator(".pylive-status", has_text="did not finish within").wait_for(timeout=60_000)
        _press(reset)
        _press(run)
        _wait_for_result(block, expected.rstrip("\n"))
        problems += _faults(reader)
    finally:
        reader.close()
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_transcript_runs_statement_by_statement_as_the_build_ran_it(browser: object, serve: object,
                                                                       site: Path) -> None:
    reader = Reader(browser, serve("/"))
    try:
        path, index, expected = _example(reader, site, "pycon")
        reader.open(path)
        block = _block(reader, "pycon", index)
        block.get_by_role("button", name="Run").click()
        assert _result(block).rstrip("\n") == expected.rstrip("\n"), "Run did not print the build's transcript"
        block.get_by_role("button", name="Edit").click()
        block.locator("textarea").fill(">>> for n in range(2):\n...     n * 10\n...\n>>> 'done'")
        block.get_by_role("button", name="Run").click()
        _wait_for_result(block, ">>> for n in range(2):\n...     n * 10\n...\n0\n10\n>>> 'done'\n'done'")
        problems = _faults(reader)
    finally:
        reader.close()
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_after_an_instant_navigation_at_phone_width(browser: object, serve: object, site: Path) -> None:
    reader = Reader(browser, serve("/"), viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    try:
        path, index, expected = _example(reader, site, "python", needs=r"\bdis\b")
        # Material navigates instantly to the pages its sitemap lists, which names them by the
        # site's published address: here, that is this server's.
        published, here = _config()["site_url"], reader.server.origin + "/"

        def sitemap_of_this_server(route: object) -> None:
            response = route.fetch()
            route.fulfill(response=response, body=response.text().replace(published, here))

        reader.context.route("**/sitemap.xml", sitemap_of_this_server)
        reader.open("/")
        page = reader.page
        page.evaluate("window.notReloaded = true")
        # A link in the page, as a reader follows it: Material's instant navigation fetches the
        # page and swaps its content in, without loading the page (or this script) again.
        page.evaluate("""path => {
          const link = Object.assign(document.createElement('a'), {href: path, textContent: 'the example'});
          document.querySelector('.md-content article').append(link);
        }""", path)
        page.get_by_role("link", name="the example").click()
        page.wait_for_url(f"**{path}")
        block = _block(reader, "python", index)
        block.locator(".pylive-controls").wait_for()
        assert page.evaluate("window.notReloaded === true"), "the page was loaded again, not navigated instantly"
        block.get_by_role("button", name="Edit").click()
        block.get_by_role("button", name="Run").click()
        assert _result(block).rstrip("\n") == expected.rstrip("\n")
        wider = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        problems = _faults(reader) + ([f"the page is {wider} px wider than a phone"] if wider > 0 else [])
    finally:
        reader.close()
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_a_page_loads_nothing_of_the_runtime_and_stays_light(browser: object, serve: object, site: Path) -> None:
    """For a reader who never clicks Run: no runtime file, and the controls (script, style
    and the marks on each example) add at most 5 % to the page's compressed transfer."""
    server = serve("/")
    reader = Reader(browser, server)
    requested: list[str] = []
    reader.page.on("request", lambda request: requested.append(request.url))
    try:
        visit = reader.open("/about/")
        blocks = reader.page.locator(".pylive-live")
        cannot = reader.page.locator(".pylive-live[data-pylive-lacks] .pylive-cannot")
        shown = {"blocks": blocks.count(), "controls": reader.page.locator(".pylive-live .pylive-controls").count(),
                 "not runnable": cannot.count(), "marked lacking": reader.page.locator("[data-pylive-lacks]").count()}
        note = cannot.first.text_content() if cannot.count() else ""
        buttons = reader.page.locator(".pylive-live[data-pylive-lacks] .pylive-button").count()
        problems = _faults(reader)
    finally:
        reader.close()
    loaded = [u for u in requested if "/assets/pyodide/" in u or "/assets/live/" in u and not u.endswith((".js", ".css"))]
    loaded += [u for u in requested if u.endswith("worker.js")]
    assert not loaded, f"loaded before any Run: {loaded}"
    assert shown["marked lacking"] >= 1 and shown["not runnable"] == shown["marked lacking"] and not buttons, shown
    assert shown["controls"] + shown["not runnable"] == shown["blocks"], shown
    assert "needs threads, which CPython on WebAssembly does not have" in note
    assert not problems, "\n".join(problems)

    html = (site / "about" / "index.html").read_text(encoding="utf-8")
    unmarked = re.sub(r'<div class="pylive-live"[^>]*>', "<div>", html)
    headers = 250  # bytes of response headers for each of the two files
    added = (len(gzip.compress(html.encode(), 6)) - len(gzip.compress(unmarked.encode(), 6))
             + sum(len(gzip.compress((site / "assets/live" / name).read_bytes(), 6)) + headers
                   for name in ("live.js", "live.css")))
    before = visit.sent - added
    assert added <= 0.05 * before, f"the controls add {added} bytes to {before}: more than 5 %"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_playground_shows_both_listings_and_links_the_code(browser: object, serve: object, site: Path,
                                                              axe_source: str) -> None:
    reader = Reader(browser, serve("/"), init_script=axe_source, color_scheme="light")
    program = f'import dis\ndis.dis(compile({PLAYGROUND_CODE!r}, "<playground>", "exec"))\n'
    expected = {minor: engine.run_script(program, _interpreter(minor)) for minor in ("3.14", "3.15")}
    try:
        reader.open("/tools/bytecode-playground/")
        page = reader.page
        page.get_by_role("textbox", name="Your code").fill(PLAYGROUND_CODE)
        _press(page.get_by_role("button", name="Show bytecode"))
        listings = page.locator(".pylive-listings .pylive-yours")
        page.wait_for_function("document.querySelectorAll('.pylive-listings .pylive-yours').length === 2",
                               timeout=RUN_TIMEOUT)
        for number, (minor, run) in enumerate(expected.items()):
            listing = listings.nth(number)
            assert listing.locator(".filename").text_content() == f"dis · CPython {_interpreter(minor).version} in your browser"
            assert listing.locator("code").text_content() == run.output.rstrip("\n")
        first, second = (listings.nth(n).bounding_box() for n in (0, 1))
        assert second["y"] == first["y"] and second["x"] > first["x"], "side by side on a wide screen"
        problems = _accessibility(reader)
        link = page.get_by_role("link", name="Link to this code").get_attribute("href")
        page.set_viewport_size({"width": 360, "height": 740})
        first, second = (listings.nth(n).bounding_box() for n in (0, 1))
        assert second["y"] >= first["y"] + first["height"], "one under the other on a phone"
        problems += _faults(reader)
        reader.open("/")  # then the link, as a reader who was sent it opens it
        reader.open(link)
        assert reader.page.get_by_role("textbox", name="Your code").input_value() == PLAYGROUND_CODE, "the link carries the code"
    finally:
        reader.close()
    assert not problems, "\n".join(problems)

