"""Reading the built site on a phone and by keyboard.

In headless Chromium (the server, browser and reader of test_site.py), at 390 CSS px wide:
the text of every chart and diagram is at least 11 px, the measurement stamp under each
chart is folded, a row of version tabs fits the screen, a tab focused by keyboard shows a
ring, and the compact dict model of types/dicts fits one screen.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_site import Reader, browser, html_pages, page_url, serve  # noqa: F401 (fixtures)

PHONE = {"width": 390, "height": 844}  # CSS px: a common phone, held upright
MIN_TEXT_PX = 11
VERSION_TAB = re.compile(r'<label for="[^"]*">(3\.\d+)</label>')


def _pages_with(site: Path, pattern: str) -> list[str]:
    return ["/" + page_url(site, p) for p in html_pages(site) if re.search(pattern, p.read_text(encoding="utf-8"))]


# The smallest text of each drawing shown, in CSS px: its font size times the drawing's
# scale. A chart is an image of SVG (a data: URL), read here as the browser draws it.
SMALLEST_TEXT = """() => {
  const smallest = (svg, scale) => Math.min(...[...svg.querySelectorAll('text')].map(
    t => parseFloat(t.style.fontSize || getComputedStyle(t).fontSize) * scale));
  const charts = [...document.querySelectorAll('img.pylive-chart')].filter(img => img.width > 0).map(img => {
    const source = decodeURIComponent(img.src.slice(img.src.indexOf(',') + 1));
    const svg = new DOMParser().parseFromString(source, 'image/svg+xml').documentElement;
    return [img.alt, smallest(svg, img.getBoundingClientRect().width / svg.viewBox.baseVal.width)];
  });
  const diagrams = [...document.querySelectorAll('svg.refdiagram')].filter(svg => svg.getBoundingClientRect().width > 0)
    .map(svg => [svg.getAttribute('aria-label'), smallest(svg, svg.getScreenCTM().a)]);
  return [...charts, ...diagrams];
}"""


@pytest.mark.slow
def test_charts_and_diagrams_are_legible_on_a_phone(browser: object, serve: object, site: Path) -> None:
    pages = _pages_with(site, r'<img class="pylive-chart"|<svg [^>]*class="refdiagram"')
    assert pages, "no page of the site has a chart or a diagram"
    reader = Reader(browser, serve("/"), viewport=PHONE)
    measured, small = 0, []
    try:
        for path in pages:
            reader.show(path)
            for label, size in reader.page.evaluate(SMALLEST_TEXT):
                measured += 1
                if size < MIN_TEXT_PX:
                    small.append(f"{path}: {label!r}: text of {size:.1f} px")
    finally:
        reader.close()
    assert measured >= len(pages), f"only {measured} drawings measured on {len(pages)} pages"
    assert not small, f"drawings whose text is under {MIN_TEXT_PX} px on a 390 px screen:\n" + "\n".join(small)


@pytest.mark.slow
def test_the_stamp_under_each_chart_is_folded(site: Path) -> None:
    charts = stamps = 0
    for page in html_pages(site):
        html = page.read_text(encoding="utf-8")
        charts += html.count('<div class="pylive-chart">')
        stamps += len(re.findall(r'<details class="pylive-stamp"><summary>[^<]+</summary>\s*<p>Measured ', html))
        assert "<small class=\"pylive-stamp\">Measured" not in html, f"{page_url(site, page)}: a stamp left unfolded"
    assert charts and stamps == charts, f"{charts} charts, {stamps} folded stamps"


@pytest.mark.slow
def test_version_tabs_fit_a_phone(browser: object, serve: object, site: Path) -> None:
    pages = _pages_with(site, VERSION_TAB.pattern)
    assert pages, "no page has version tabs"
    reader = Reader(browser, serve("/"), viewport=PHONE)
    wide = []
    try:
        for path in pages:
            reader.show(path)
            strips = reader.page.evaluate("""() => [...document.querySelectorAll('.tabbed-labels')]
                .filter(strip => /^3\\.\\d+$/.test(strip.firstElementChild.textContent.trim()))
                .map(strip => [strip.scrollWidth, strip.clientWidth, strip.textContent.trim()])""")
            wide += [f"{path}: {text!r} is {needed} px in {room} px" for needed, room, text in strips if needed > room]
    finally:
        reader.close()
    assert not wide, "version tabs that do not fit a 390 px screen:\n" + "\n".join(wide)


@pytest.mark.slow
def test_a_tab_focused_by_keyboard_shows_a_ring(browser: object, serve: object) -> None:
    reader = Reader(browser, serve("/"), viewport=PHONE)
    try:
        reader.open("/types/dicts/")
        page = reader.page
        strip = page.locator(".tabbed-labels", has=page.locator("label", has_text=re.compile(r"^3\.\d+$"))).first
        strip.locator("label").first.click()
        page.keyboard.press("ArrowRight")  # the next tab, by keyboard
        ring = page.evaluate("""() => {
            const input = document.activeElement;
            const label = document.querySelector(`label[for="${input.id}"]`);
            const style = getComputedStyle(label);
            return [input.type, label.textContent.trim(), style.outlineStyle, parseFloat(style.outlineWidth)];
        }""")
    finally:
        reader.close()
    kind, text, style, width = ring
    assert kind == "radio" and re.fullmatch(r"3\.\d+", text), f"the keyboard did not reach a version tab: {ring}"
    assert style != "none" and width >= 1.5, f"the focused tab {text} shows no focus ring: {ring}"


@pytest.mark.slow
def test_the_compact_dict_model_fits_a_phone_screen(browser: object, serve: object) -> None:
    reader = Reader(browser, serve("/"), viewport=PHONE)
    try:
        reader.open("/types/dicts/")
        block = reader.page.locator(".tabbed-set", has_text="after inserting 1, 9, 4").first
        height = block.bounding_box()["height"]
        shown = block.locator(".tabbed-block").first.inner_text()
    finally:
        reader.close()
    assert "after inserting 1, 9, 4" in shown, "the model's output is not the tab shown first"
    assert height <= PHONE["height"], f"the compact dict model is {height:.0f} px tall on a {PHONE['height']} px screen"
