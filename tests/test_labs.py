"""The labs: Jupyter notebooks in docs/labs/, executed when the site builds.

mkdocs-jupyter makes each notebook a page; pylive/labs.py runs it (fresh kernel,
temporary folder, timeout, failing cell named), folds the answers, drops mkdocs-jupyter's
CSS and CDN scripts, resolves links and adds the download button. These tests run every
notebook on their own, check the notebooks as stored, build the whole site once and look
at the lab pages, and build two small broken sites that must fail.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from conftest import ROOT, site_config
from pylive import engine, labs

LABS = ROOT / "docs" / "labs"
NOTEBOOKS = sorted(LABS.glob("*.ipynb"))
HOOK = ROOT / "pylive" / "labs.py"
CHAPTERS = {  # lab -> the chapters it must link back to
    "bytecode": ["running"],
    "memory": ["names"],
    "performance": ["performance", "concurrency"],
}
MAX_PAGE_BYTES = 300_000  # mkdocs-jupyter's own page would be ~750 KB: ~600 KB of CSS alone
SKIP_DIRS = {".git", ".venv", "venv", "site", ".cache", "node_modules", "build", ".ipynb_checkpoints"}


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _answer_groups(notebook) -> list[list[int]]:
    """Indexes of the runs of consecutive cells tagged "answer"."""
    groups, previous = [], False
    for index, cell in enumerate(notebook.cells):
        tagged = "answer" in cell.metadata.get("tags", [])
        if tagged and not previous:
            groups.append([])
        if tagged:
            groups[-1].append(index)
        previous = tagged
    return groups


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYLIVE_CACHE"}  # no cached results
    env["NO_MKDOCS_2_WARNING"] = "1"
    return env


# -- the notebooks as stored ------------------------------------------------------------


def test_there_are_at_least_three_labs_and_all_are_in_the_nav() -> None:
    assert {p.stem for p in NOTEBOOKS} >= set(CHAPTERS), f"missing labs in {_name(LABS)}"
    labs_section = next(item["Labs"] for item in site_config()["nav"] if isinstance(item, dict) and "Labs" in item)
    listed = {entry if isinstance(entry, str) else next(iter(entry.values())) for entry in labs_section}
    missing = [_name(p) for p in NOTEBOOKS if f"labs/{p.name}" not in listed]
    assert not missing, f"notebooks missing from the Labs section of the nav: {missing}"


def test_no_notebook_in_the_repository_carries_stored_outputs() -> None:
    """Outputs come from the build, never from a file: every notebook is stored clean."""
    problems, found = [], 0
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for file in files:
            if not file.endswith(".ipynb"):
                continue
            path = Path(folder, file)
            found += 1
            notebook = nbformat.read(path, as_version=4)
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
                    problems.append(f"{_name(path)}: cell {index} has stored outputs or an execution count")
    assert found >= len(CHAPTERS)
    assert not problems, "\n".join(problems) + "\nclear them: jupyter nbconvert --clear-output --inplace <file>"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_notebook_is_well_formed(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3", "runs on the default Python 3 kernel of any Jupyter"
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# "), (
        "the first cell is the page's title"
    )
    groups = _answer_groups(notebook)
    assert len(groups) >= 2, "each lab has exercises with worked answers (cells tagged 'answer')"
    for group in groups:
        assert any(notebook.cells[i].cell_type == "code" for i in group), f"answer at cells {group} has no code"
        assert notebook.cells[group[0] - 1].cell_type == "markdown", f"answer at cell {group[0]} follows no question"
        for index in group:
            assert notebook.cells[index].metadata.get("jupyter", {}).get("source_hidden"), (
                f"{_name(path)}: answer cell {index} is not folded in Jupyter (metadata jupyter.source_hidden)"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_notebook_links_to_pages_that_exist(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    links = [
        (index, link)
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "markdown"
        for link in re.findall(r"\]\(([^)\s#]+\.md)(?:#[^)\s]*)?\)", cell.source)
    ]
    broken = [f"cell {i}: {link}" for i, link in links if not (path.parent / link).resolve().is_file()]
    assert not broken, f"{_name(path)} links to missing pages: {broken}"
    for chapter in CHAPTERS.get(path.stem, []):
        assert any(link.startswith(f"../{chapter}/") for _, link in links), f"{_name(path)} does not link to {chapter}/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_notebook_runs_top_to_bottom_in_a_clean_kernel(path: Path, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    before = sorted(p.name for p in LABS.iterdir())
    running = {"index": None}
    client = NotebookClient(
        notebook,
        timeout=120,
        allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel works in a temporary folder
        shutdown_kernel="immediate",
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        on_cell_start=lambda cell, cell_index: running.update(index=cell_index),
    )
    try:
        client.execute(env={**os.environ, "TMPDIR": str(tmp_path)})
    except Exception as error:
        index = running["index"]
        source = notebook.cells[index].source if index is not None else ""
        detail = re.sub(r"\x1b\[[0-9;]*m", "", str(error))[-3000:]
        pytest.fail(f"{_name(path)}: cell {index} failed; its source:\n{source}\n\n{detail}", pytrace=False)
    assert sorted(p.name for p in LABS.iterdir()) == before, "the notebook wrote into the repository"


# -- the built site ----------------------------------------------------------------------


# The `site` fixture (conftest.py) is the session's one strict build of the whole site.


def _page(site: Path, path: Path) -> str:
    page = site / "labs" / path.stem / "index.html"
    assert page.is_file(), f"{_name(path)} was not built as {page.relative_to(site)}"
    return page.read_text(encoding="utf-8")


def _content(html: str) -> str:
    """The notebook's part of the page."""
    start = html.index('<div class="jupyter-wrapper">')
    return html[start : html.index("<!-- jupyter-wrapper -->", start)]


class _Assets(HTMLParser):
    """Everything in a page that the browser would fetch from another host."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        remote = re.compile(r"^\s*(https?:)?//", re.I)
        for name in ("src", "srcset", "data", "poster"):
            if remote.match(a.get(name, "")):
                self.found.append(f"<{tag} {name}={a[name]}>")
        rel = a.get("rel", "").lower()
        if tag == "link" and remote.match(a.get("href", "")) and rel not in ("canonical", "alternate"):
            self.found.append(f"<link rel={rel} href={a['href']}>")
        if re.search(r"url\(\s*['\"]?\s*(https?:)?//", a.get("style", ""), re.I):
            self.found.append(f"<{tag} style={a['style']}>")
        self._in = tag if tag in ("script", "style") else None

    def handle_data(self, data: str) -> None:
        remote = re.search(r"(@import|url\()\s*['\"]?\s*((https?:)?//[^)'\"; ]+)", data, re.I)
        if self._in == "style" and remote:
            self.found.append(f"<style> loading {remote.group(2)}")
        address = re.search(r"https?://[^)'\"; ]+", data)
        if self._in == "script" and address:
            self.found.append(f"<script> mentioning {address.group(0)}")

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def test_assets_check_catches_what_mkdocs_jupyter_adds() -> None:
    """The offline check must be able to fail: on mkdocs-jupyter's own markup it does."""
    parser = _Assets()
    parser.feed('<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js"> </script>'
                '<script type="module">import mermaid from "https://cdnjs.cloudflare.com/mermaid.esm.min.mjs";</script>'
                '<style>@import url("https://fonts.googleapis.com/css?family=Roboto");</style>'
                '<link rel="stylesheet" href="//cdn.example.org/x.css">'
                '<link rel="canonical" href="https://python-internals-live.github.io/site/">'
                '<a href="https://docs.python.org/3/">the docs</a>')
    assert len(parser.found) == 4, parser.found


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_lab_page_has_download_button_for_a_runnable_notebook(site: Path, path: Path) -> None:
    html = _page(site, path)
    assert re.search(rf'<a class="md-button[^"]*" href="{re.escape(path.name)}" download', html), "no download button"
    downloaded = site / "labs" / path.stem / path.name
    assert downloaded.is_file(), f"the button's target {downloaded.relative_to(site)} is missing"
    notebook = nbformat.read(downloaded, as_version=4)
    nbformat.validate(notebook)
    source = nbformat.read(path, as_version=4)
    assert [c.source for c in notebook.cells if c.cell_type == "code"] == [
        c.source for c in source.cells if c.cell_type == "code"
    ], "the download must hold the same code as the lab"
    assert not any(c.get("outputs") for c in notebook.cells), "the download is a clean notebook"
    site_url = site_config()["site_url"].rstrip("/")
    relative = [link for c in notebook.cells if c.cell_type == "markdown"
                for link in re.findall(r"\]\(([^)\s]+\.md[^)\s]*)\)", c.source)]
    assert not relative, f"links that would not work in a downloaded notebook: {relative}"
    for chapter in CHAPTERS.get(path.stem, []):
        assert f"]({site_url}/{chapter}/" in downloaded.read_text(encoding="utf-8"), f"no link to the site's {chapter}/"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_lab_page_loads_nothing_from_another_host_and_is_light(site: Path, path: Path) -> None:
    html = _page(site, path)
    parser = _Assets()
    parser.feed(html)
    assert not parser.found, f"{path.stem} page loads from other hosts: {parser.found}"
    for leftover in ("--jp-", "<clipboard-copy"):  # JupyterLab's CSS variables, the copy button's element
        assert leftover not in html, f"mkdocs-jupyter's {leftover!r} is still in the page"
    size = len(html.encode("utf-8"))
    assert size < MAX_PAGE_BYTES, f"{path.stem} page weighs {size} bytes"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_lab_page_shows_this_builds_outputs_and_folds_the_answers(site: Path, path: Path) -> None:
    page = _page(site, path)
    content = _content(page)
    # each lab's first cell prints the interpreter: the one that built the site, i.e. this one
    assert f"CPython {platform.python_version()}" in content, "the outputs were not produced by this build"
    stamp = re.search(r'<p class="pylive-page-stamp"[^>]*><small>The outputs on this page were produced on '
                      r"\w+ \d+, \d{4} \(UTC\) by ([^<]+)\.</small></p>", page)
    assert stamp and stamp[1] == engine.build_interpreter().label, "the page does not say when and by what its outputs were made"
    notebook = nbformat.read(path, as_version=4)
    code_cells = sum(c.cell_type == "code" for c in notebook.cells)
    outputs = content.count('<div class="jp-OutputArea-child')
    assert outputs >= code_cells * 2 // 3, f"only {outputs} outputs for {code_cells} code cells"
    # labelled as every output of the site is, with the interpreter that printed it
    texts = re.findall(r'<div class="jp-RenderedText[^>]*>\s*<div class="highlight">(<span class="filename">[^<]*</span>)?',
                       content)
    label = f'<span class="filename">Output · CPython {platform.python_version()} · native</span>'
    assert texts and all(found == label for found in texts), f"text outputs not labelled {label}: {texts[:3]}"
    folded = re.findall(r"<details([^>]*)>\s*<summary>Answer</summary>(.*?)</details>", content, re.DOTALL)
    assert len(folded) == len(_answer_groups(notebook)), "every answer is in its own <details>"
    for attributes, inner in folded:
        assert "open" not in attributes, "answers start folded"
        assert 'class="language-python highlight"' in inner and "jp-OutputArea-child" in inner, (
            "the folded answer holds its code and the output this build produced"
        )


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_lab_page_links_resolve_in_the_built_site(site: Path, path: Path) -> None:
    content = _content(_page(site, path))
    page_dir = site / "labs" / path.stem
    hrefs = [h for h in re.findall(r'href="([^"#]+)(?:#[^"]*)?"', content) if not re.match(r"[a-z]+:", h)]
    broken = [h for h in hrefs if not ((page_dir / h) / ("index.html" if h.endswith("/") else "")).resolve().exists()]
    assert not broken, f"links that lead nowhere in the built site: {broken}"
    for chapter in CHAPTERS.get(path.stem, []):
        assert f"../../{chapter}/" in hrefs, f"no link back to {chapter}/"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_lab_page_table_of_contents_and_permalinks_reach_their_headings(site: Path, path: Path) -> None:
    """mkdocs-jupyter builds the table of contents apart from the page: `code` in a heading
    makes them disagree, so keep headings plain."""
    html = _page(site, path)
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    missing = sorted({a for a in re.findall(r'href="#([^"]+)"', html) if a not in ids})
    assert not missing, f"{path.stem}: links to anchors that are not on the page: {missing}"


# -- broken labs fail the build ----------------------------------------------------------


def _broken_site(tmp_path: Path, cells: list) -> subprocess.CompletedProcess:
    """A small site with the real lab settings (mkdocs-jupyter and the hook) and one notebook."""
    config = site_config()
    plugin = next(p for p in config["plugins"] if isinstance(p, dict) and "mkdocs-jupyter" in p)
    (tmp_path / "docs" / "labs").mkdir(parents=True)
    (tmp_path / "docs" / "index.md").write_text("# Home\n", encoding="utf-8")
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "docs" / "labs" / "broken.ipynb")
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump({
        "site_name": "broken lab",
        "theme": {"name": "material", "font": False},
        "plugins": [plugin],
        "hooks": [str(HOOK)],
    }), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300,
    )


def test_a_copy_whose_venv_links_to_this_one_finds_its_cached_labs(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # As the copies of tests/test_serve.py and `make bench` do: their .venv links to this one's.
    monkeypatch.setenv("PYLIVE_CACHE", str(tmp_path / "cache"))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    here = labs._cache_file(notebook, "")
    linked = tmp_path / "copy" / ".venv" / "bin"
    linked.parent.mkdir(parents=True)
    linked.symlink_to(Path(sys.executable).parent)
    monkeypatch.setattr(sys, "executable", str(linked / Path(sys.executable).name))
    assert labs._cache_file(notebook, "") == here


def test_a_failing_cell_fails_the_build_naming_notebook_and_cell(tmp_path: Path) -> None:
    run = _broken_site(tmp_path, [
        nbformat.v4.new_markdown_cell("# A broken lab"),
        nbformat.v4.new_code_cell("open('written-by-the-lab.txt', 'w').write('where am I?')"),
        nbformat.v4.new_markdown_cell("Now something goes wrong."),
        nbformat.v4.new_code_cell("ratio = 1 / 0"),
        nbformat.v4.new_code_cell("print('never runs')"),
    ])
    assert run.returncode != 0, "a lab whose cell raises must fail the build"
    assert "docs/labs/broken.ipynb: cell 3 failed" in run.stderr, run.stderr[-3000:]
    assert "ratio = 1 / 0" in run.stderr and "ZeroDivisionError" in run.stderr, run.stderr[-3000:]
    written = [p for p in tmp_path.rglob("written-by-the-lab.txt")]
    assert not written, f"the notebook ran inside the project: {written}"


def test_a_link_to_a_missing_page_fails_the_build(tmp_path: Path) -> None:
    run = _broken_site(tmp_path, [
        nbformat.v4.new_markdown_cell("# A lab\n\nSee [the chapter](../nowhere/index.md)."),
        nbformat.v4.new_code_cell("print('fine')"),
    ])
    assert run.returncode != 0, "a lab linking to a missing page must fail the strict build"
    assert "'labs/broken.ipynb' contains a link '../nowhere/index.md'" in run.stderr, run.stderr[-3000:]


def test_a_lab_shows_stand_ins_and_fails_on_a_build_machine_path(tmp_path: Path) -> None:
    home = str(Path.home())
    run = _broken_site(tmp_path, [
        nbformat.v4.new_markdown_cell("# A lab that prints paths"),
        nbformat.v4.new_code_cell("import os\nprint(os.getcwd())"),
        nbformat.v4.new_code_cell(f"print({home + '/notes'!r})"),
    ])
    if len(home) > 1:
        assert run.returncode != 0, "a lab that shows the build's home must fail the build"
        assert f"docs/labs/broken.ipynb: cell 2 shows the build machine's path {home}" in run.stderr, run.stderr[-3000:]
    fine = _broken_site(tmp_path / "fine", [
        nbformat.v4.new_markdown_cell("# A lab that prints its folder"),
        nbformat.v4.new_code_cell("import os\nprint(os.getcwd())"),
    ])
    assert fine.returncode == 0, fine.stderr[-3000:]
    page = (tmp_path / "fine" / "site" / "labs" / "broken" / "index.html").read_text(encoding="utf-8")
    assert "/tmp/example" in page, "the kernel's folder is shown by the examples' stand-in name"
