"""MkDocs hook (mkdocs.yml: hooks) for the lab notebooks, docs/labs/*.ipynb.

mkdocs-jupyter (configured in mkdocs.yml) renders each notebook as a page. This hook adds
what it cannot be told to do:

* execution: each notebook runs top to bottom in a fresh kernel, in a temporary working
  directory that is also its TMPDIR (never in the repository), with a timeout per cell. A
  failing or hanging cell fails the build, naming the notebook, the cell's index and its
  first line. When `PYLIVE_CACHE` names a folder (`make serve`), results are cached there
  like the pages' examples, keyed by the notebook, the interpreter and the Jupyter libraries.
  The notebooks start running, one after the other in a thread of their own, as soon as the
  build knows its files, like the pages' examples, instead of when their page is rendered;
* answers: consecutive cells tagged "answer" render folded in one <details> block;
* weight and hosts: the page keeps the notebook's cells but not the ~600 KB of JupyterLab
  CSS, nor the MathJax, mermaid (both from a CDN) and clipboard scripts that mkdocs-jupyter
  puts in every page; code and outputs become Material code blocks (their few lines of CSS
  are in docs/assets/site.css);
* links: `../running/index.md` in a notebook's markdown is resolved as MkDocs resolves
  links in pages; a missing page is a warning, so it fails the strict build;
* download: a button for the notebook, which mkdocs-jupyter copies next to the page
  (`include_source`); in that copy, links to the site's pages point to the published site.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import re
import sys
import tempfile
import time
from html import escape as html_escape
from concurrent.futures import Future, ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import nbformat
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs_jupyter import convert
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from pylive import engine, plugin

log = logging.getLogger("mkdocs.hooks.labs")

CELL_TIMEOUT = 60  # seconds a cell may run before it fails the build
ANSWER_TAG = "answer"

# mkdocs serve loads this file again on every rebuild: keep the original renderer once.
_render = getattr(convert, "_labs_original_nb2html", convert.nb2html)
convert._labs_original_nb2html = _render


def on_config(config):
    convert.nb2html = _nb2html


def _nb2html(nb_path, execute=False, kernel_name="", allow_errors=True, **options):
    """mkdocs-jupyter's nb2html, with our execution before it and a lighter page after it."""
    notebook = nbformat.read(nb_path, as_version=4)
    if execute and os.environ.get("PYLIVE_EXECUTE", "1") != "0":  # execution off: see plugin.py
        notebook = _cached_run(notebook, nb_path, kernel_name, allow_errors)
    _fold_answers(notebook)
    with tempfile.TemporaryDirectory(prefix="lab-render-") as folder:
        executed = Path(folder, Path(nb_path).name)
        nbformat.write(notebook, executed)
        html = _render(str(executed), execute=False, kernel_name=kernel_name,
                       allow_errors=allow_errors, **options)
    return _slim(html, _output_label(notebook))


# -- execution ------------------------------------------------------------------------

class SandboxedKernelManager(KernelManager):
    """A kernel started inside the engine's sandbox (pylive/sandbox.py), like every example:
    an allow-listed environment, the checkout read-only, limits, and its whole process tree
    ended with it. `box` is set before the kernel starts."""

    box: engine.Box | None = None

    def format_kernel_cmd(self, extra_arguments=None):
        # Inside the sandbox the kernel's parent is the namespace's PID 1, not the build:
        # ipykernel would take that for its parent's death and exit at once (1 turns the watch off).
        argv = [*super().format_kernel_cmd(extra_arguments), "--IPKernelApp.parent_handle=1"]
        return engine.sandbox_command(argv, self.box.work)


def run_notebook(notebook, name, kernel_name="", allow_errors=False, timeout=CELL_TIMEOUT):
    """Run every cell in a fresh sandboxed kernel, in a temporary folder; PluginError names
    the cell."""
    running = {"index": None}
    with engine.Box() as box:
        workdir = str(box.work)
        # The client makes (and so shuts down) its own kernel manager: one of this box's.
        manager_class = type("BoxedKernelManager", (SandboxedKernelManager,), {"box": box})
        client = NotebookClient(
            notebook,
            kernel_manager_class=manager_class,
            timeout=timeout,
            kernel_name=kernel_name,
            allow_errors=allow_errors,
            resources={"metadata": {"path": workdir}},  # the kernel's working directory
            shutdown_kernel="immediate",  # the kernel is thrown away: do not wait for it
            extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no transport banner in the log
            on_cell_start=lambda cell, cell_index: running.update(index=cell_index),
        )
        asked = time.perf_counter()
        engine.early.quiet.wait_idle()  # jupyter_client starts the kernel in a session of its own
        started = time.perf_counter()
        try:  # the kernel sees only the allow-listed environment of every example
            client.execute(env=box.env)
        except Exception as error:
            raise PluginError(_failure(name, notebook, running["index"], error, timeout)) from None
        waited = started - asked
        log.info(f"labs: ran {name} in {time.perf_counter() - started:.1f} s"
                 + (f", after {waited:.1f} s waiting for the timing runs to end" if waited >= 0.05 else ""))
        _machine_free(notebook, box, name)
    return notebook


def _machine_free(notebook, box, name):
    """Outputs with the stand-ins of the pages' examples for the kernel's folders, the build's
    interpreter and the checkout; a build machine path still shown fails the build, naming the cell."""
    def clean(value):
        if isinstance(value, str):
            return engine.machine_free(box.stand_ins(value), engine.build_interpreter())
        if isinstance(value, list):
            return [clean(item) for item in value]
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items()}
        return value

    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            for key in ("text", "data", "traceback", "evalue"):
                if key in output:
                    output[key] = clean(output[key])
            leaks = engine.machine_paths(json.dumps(output, ensure_ascii=False))
            if leaks:
                raise PluginError(f"{name}: cell {index} shows the build machine's path {leaks[0]}: "
                                  "print a relative path")


def _failure(name, notebook, index, error, timeout):
    detail = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()  # no terminal colours
    if index is None:
        return f"{name}: the notebook could not be run: {detail}"
    first_line = next((line for line in notebook.cells[index].source.splitlines() if line.strip()), "")
    what = f"did not finish within {timeout} s" if isinstance(error, TimeoutError) else "failed"
    return (f"{name}: cell {index} {what} (index among all {len(notebook.cells)} cells, markdown "
            f"included; the cell starts {first_line!r})\n{detail}")


_produced: dict[str, float] = {}  # notebook path -> when its outputs were produced (for the page's stamp)


_early = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pylive-labs")
_started: dict[tuple[str, str, str, bool], Future] = {}  # (path, text, kernel, allow_errors) -> its run


@event_priority(-100)  # after the plugin has started the pages' examples
def on_files(files, config):
    """Start running every lab notebook that mkdocs-jupyter will render (see _cached_run)."""
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is None or not jupyter.config["execute"] or os.environ.get("PYLIVE_EXECUTE", "1") == "0":
        return files
    options = (jupyter.config["kernel_name"], jupyter.config["allow_errors"])
    for file in files.documentation_pages():
        if not file.src_uri.endswith(".ipynb") or not file.is_modified():
            continue  # an unchanged notebook that `make serve` does not render again (--dirty)
        notebook = nbformat.read(file.abs_src_path, as_version=4)
        key = (file.abs_src_path, nbformat.writes(notebook), *options)
        if key not in _started:
            _started[key] = _early.submit(_cached_run, notebook, file.abs_src_path, *options, started_early=True)
    return files


def _cached_run(notebook, nb_path, kernel_name, allow_errors, started_early=False):
    """The notebook run (or its cached run), or the run started early for it."""
    key = (nb_path, nbformat.writes(notebook), kernel_name, allow_errors)
    early = None if started_early else _started.pop(key, None)
    if early is not None:
        return early.result()
    name = os.path.relpath(nb_path)
    cache = _cache_file(notebook, kernel_name)
    if cache is not None:
        try:  # an entry cut short (a killed `make serve`) is a miss
            executed = nbformat.reads(cache.read_text(encoding="utf-8"), as_version=4)
            _produced[str(Path(nb_path).resolve())] = cache.stat().st_mtime
            return executed
        except Exception:  # noqa: BLE001 - nbformat raises several kinds
            pass
    notebook = run_notebook(notebook, name, kernel_name, allow_errors)
    _produced[str(Path(nb_path).resolve())] = time.time()
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(nbformat.writes(notebook), encoding="utf-8")
        os.replace(partial, cache)  # whole or not at all
    return notebook


def _cache_file(notebook, kernel_name):
    """Where an executed notebook is kept when PYLIVE_CACHE names a folder (make serve).

    The key is the notebook, the interpreter that runs its kernel and the versions of the
    Jupyter libraries: a cached output is what this interpreter printed for this notebook.
    The interpreter is the real one that a virtual environment's `python` links to, so a
    copy of the checkout whose .venv links to this one's (tests/test_serve.py, `make
    bench`) finds the results of the original.
    """
    folder = os.environ.get("PYLIVE_CACHE")
    if not folder:
        return None
    key = [nbformat.writes(notebook), kernel_name, os.path.realpath(sys.executable), sys.version, CELL_TIMEOUT,
           [version(package) for package in ("ipykernel", "ipython", "nbclient")]]
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()
    return Path(folder, "labs", digest + ".ipynb")


def _fold_answers(notebook):
    """Wrap each run of cells tagged "answer" in <details> (raw HTML cells, rendered as is)."""
    cells, folding = [], False
    for cell in notebook.cells:
        is_answer = ANSWER_TAG in cell.metadata.get("tags", [])
        if is_answer and not folding:
            cells.append(_raw('<details class="success lab-answer"><summary>Answer</summary>'))
        elif folding and not is_answer:
            cells.append(_raw("</details>"))
        cells.append(cell)
        folding = is_answer
    if folding:
        cells.append(_raw("</details>"))
    notebook.cells = cells


def _raw(html):
    return nbformat.v4.new_raw_cell(html, metadata={"raw_mimetype": "text/html"})


# -- a light page -----------------------------------------------------------------------

_CELLS = re.compile(r'<div class="jupyter-wrapper">.*<!-- jupyter-wrapper -->', re.DOTALL)
_EDITS = [
    # mkdocs-jupyter's copy button (its script is gone) and the hidden copy of each cell's
    # source it copies from: Material puts its own copy button on every code block.
    (r'<div class="zeroclipboard-container">.*?</clipboard-copy>\s*</div>', ""),
    (r'<div class="clipboard-copy-txt" id="cell-\d+">.*?</div>', ""),
    # the cells' tags ("answer"), shown above the code, and empty layout boxes
    (r'<div class="celltoolbar">(?:\s*<div class="button_container[^"]*">\s*<span class="tag-container">'
     r'\s*<span class="cell-tag">[^<]*</span>\s*</span>\s*</div>)*\s*</div>', ""),
    (r'<div class="jp-Collapser [^"]*">\s*</div>', ""),
    # a cell's code and its text outputs become Material code blocks
    (r'<div class="highlight-ipynb hl-(\w+)[^"]*"><pre>(.*?)</pre></div>',
     r'<div class="language-\1 highlight"><pre><code>\2</code></pre></div>'),
    # (labelled like every output of the site: see _slim)
    (r'(<div class="jp-RenderedText jp-OutputArea-output"[^>]*>\s*)<pre>(.*?)</pre>',
     r'\1<div class="highlight"><span class="filename">LABEL</span><pre><code>\2</code></pre></div>'),
    # heading permalinks as Material draws them
    (r'<a class="anchor-link" href="#', '<a class="headerlink" href="#'),
]
_EDITS = [(re.compile(pattern, re.DOTALL), replacement) for pattern, replacement in _EDITS]


def _output_label(notebook):
    """`Output · CPython 3.11.7 · native`, as the pages label their outputs: the kernel is the
    build's own interpreter, whose version the kernel reported when it ran the notebook."""
    build = engine.build_interpreter()
    reported = notebook.metadata.get("language_info", {}).get("version")
    return f"Output · {build.label}" if reported in (None, build.version) else f"Output · Python {reported}"


def _slim(html, label):
    """Keep the cells only: drop mkdocs-jupyter's inline CSS (~600 KB), scripts and CDN links;
    label each text output with `label`."""
    match = _CELLS.search(html)
    if match is None:
        raise PluginError("mkdocs-jupyter's page layout changed: update pylive/labs.py")
    cells = match.group(0)
    for pattern, replacement in _EDITS:
        cells = pattern.sub(replacement.replace("LABEL", html_escape(label)), cells)
    return cells  # their CSS is in docs/assets/site.css: a <style> in the page's body is not valid HTML


# -- links and the download ---------------------------------------------------------------

# a relative link to a page: href="../running/index.md#anchor" in HTML, ](...) in markdown
_PAGE_HREF = re.compile(r'href="(?![a-z][a-z0-9+.-]*:|/|#)([^"#?]+\.md)(#[^"]*)?"')
_PAGE_LINK = re.compile(r"(\]\()(?![a-z][a-z0-9+.-]*:|/|#)([^)\s#]+\.md)(#[^)\s]*)?\)")
_downloads = {}  # where a notebook's download goes in the built site -> its text


def on_pre_build(config):
    _downloads.clear()


def _resolve(page, files, path):
    """The File a relative link in the notebook names, as MkDocs resolves page links."""
    target = posixpath.normpath(posixpath.join(posixpath.dirname(page.file.src_uri), path))
    return files.get_file_from_path(target)


def on_page_content(html, page, config, files):
    if not page.file.src_uri.endswith(".ipynb"):
        return html

    def to_url(match):
        path, anchor = match.group(1), match.group(2) or ""
        target = _resolve(page, files, path)
        if target is None:
            log.warning(f"Doc file '{page.file.src_uri}' contains a link '{path}', "
                        "but the target is not found among documentation files.")
            return match.group(0)
        return f'href="{target.url_relative_to(page.file)}{anchor}"'

    html = _PAGE_HREF.sub(to_url, html)
    name = posixpath.basename(page.file.src_uri)
    _downloads[Path(page.file.abs_dest_path).parent / name] = _download(page, config, files)
    button = (f'<p class="lab-download"><a class="md-button md-button--primary" href="{name}" download '
              f'title="Download this lab as a Jupyter notebook">{_ICON} Download the notebook ({name})</a></p>')
    at = html.find("</h1>")
    at = at + len("</h1>") if at >= 0 else 0
    # The kernel is the build's own Python (ipykernel's kernel runs the interpreter that found it).
    when = _produced.pop(str(Path(page.file.abs_src_path).resolve()), None)
    stamp = "" if when is None else plugin.page_stamp({"kernel": (engine.build_interpreter(), when, when)})
    return html[:at] + button + html[at:] + stamp


def _download(page, config, files):
    """The notebook as readers download it: links to the site's pages point to the published site."""
    site_url = (config.site_url or "").rstrip("/")

    def absolute(match):
        target = _resolve(page, files, match.group(2))
        if target is None or not site_url:
            return match.group(0)
        return f"{match.group(1)}{site_url}/{target.url}{match.group(3) or ''})"

    notebook = json.loads(Path(page.file.abs_src_path).read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            cell["source"] = _PAGE_LINK.sub(absolute, source).splitlines(keepends=True)
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


@event_priority(-100)  # after mkdocs-jupyter has copied the notebook (include_source)
def on_post_build(config):
    for destination, text in _downloads.items():
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")


def _icon(name):
    import material

    icons = Path(material.__file__).parent / "templates" / ".icons"
    return (icons / "material" / f"{name}.svg").read_text(encoding="utf-8").strip()


_ICON = _icon("download")
