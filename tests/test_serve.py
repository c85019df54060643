"""The contributor's loop: the README's serve command, exactly as written, on a copy of the
repository. It must start, serve the site at the address the README gives, show an edit,
show a broken example as an error box, recover when it is fixed, and keep the navigation
of the other pages right after a rebuild of one page.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import IN_CI, ROOT, RUN_CACHE

ADDRESS = "http://127.0.0.1:8000"
PAGE = "docs/running/pipeline.md"
URL = f"{ADDRESS}/running/pipeline/"


def _readme_serve_command() -> str:
    """The first command of the README's first bash block: what a new contributor types."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", readme, re.DOTALL)
    assert block, "the README has no bash block"
    return block[1].strip().splitlines()[0]


def _port_free() -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", 8000)) != 0


def _fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, ""
    except (urllib.error.URLError, OSError):
        return 0, ""


def _wait_for(predicate, seconds: float, server: subprocess.Popen, what: str) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the server stopped while waiting for {what}")
        status, body = _fetch(URL)
        if status == 200 and predicate(body):
            return body
        time.sleep(0.3)
    pytest.fail(f"{what} did not happen within {seconds:g} s")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.Popen, Path]]:
    if not _port_free():
        if IN_CI:
            pytest.fail("port 8000, which the README names, is taken")
        pytest.skip("port 8000 is taken (is `make serve` already running?)")
    copy = tmp_path_factory.mktemp("serve") / "repo"
    shutil.copytree(ROOT, copy, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".venv", "site", ".cache", "node_modules", "__pycache__"))
    # The set-up the command would do is already done here: share the installed environments,
    # and this run's examples (as a contributor's earlier `make serve` would have cached them).
    # (.venv holds links to the real one's parts and a stamp of its own, which is what tells
    # make that the set-up is done.)
    (copy / ".venv").mkdir()
    for part in (ROOT / ".venv").iterdir():
        if part.name != ".installed":
            (copy / ".venv" / part.name).symlink_to(part)
    (copy / ".venv" / ".installed").touch()
    if (ROOT / "node_modules").is_dir():
        (copy / "node_modules").symlink_to(ROOT / "node_modules")
    shutil.copytree(RUN_CACHE, copy / ".cache" / "pylive")
    log = copy.parent / "serve.log"
    with open(log, "w") as out:
        server = subprocess.Popen(_readme_serve_command(), shell=True, cwd=copy, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield copy, server, log
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.slow
def test_the_readme_serve_command_serves_the_site_at_its_address(served) -> None:
    copy, server, log = served
    assert _readme_serve_command() == "make serve"
    body = _wait_for(lambda b: "<h1" in b, 600, server, "the first build")
    assert "The pipeline" in body or "pipeline" in body.lower()
    status, home = _fetch(f"{ADDRESS}/")
    assert status == 200 and "Python Internals, Live" in home, f"the home page is not at {ADDRESS}/"
    assert "Aborted" not in log.read_text()


@pytest.mark.slow
def test_an_edit_shows_and_the_navigation_stays_right(served) -> None:
    copy, server, log = served
    _wait_for(lambda b: "<h1" in b, 600, server, "the first build")
    word = f"edited{uuid.uuid4().hex[:8]}"
    page = copy / PAGE
    original = page.read_text(encoding="utf-8")
    page.write_text(original.replace("\n\n", f"\n\n{word}\n\n", 1), encoding="utf-8")
    body = _wait_for(lambda b: word in b, 60, server, "the prose edit")
    # Only this page was rebuilt: the names of the others, in the navigation and the
    # footer's previous/next links, must still be their titles.
    names = [" ".join(name.split()) for name in
             re.findall(r'<span class="md-ellipsis">(.*?)</span>', body, re.DOTALL)
             + re.findall(r'<div class="md-ellipsis">(.*?)</div>', body, re.DOTALL)]
    assert len(names) > 50, "the navigation was not found"
    assert "None" not in names, "a page in the navigation or footer is called 'None' after the rebuild"
    assert "Code objects and dis" in body or "code-objects-and-dis" in body


@pytest.mark.slow
def test_a_broken_example_shows_as_an_error_box_and_recovers(served) -> None:
    copy, server, log = served
    _wait_for(lambda b: "<h1" in b, 600, server, "the first build")
    page = copy / PAGE
    original = page.read_text(encoding="utf-8")
    broken = original + '\n```python\nraise ValueError("broken on purpose")\n```\n'
    page.write_text(broken, encoding="utf-8")
    body = _wait_for(lambda b: "pylive-failure" in b, 60, server, "the error box")
    assert "broken on purpose" in body and "This example failed when the site was built" in body
    page.write_text(original, encoding="utf-8")
    _wait_for(lambda b: "pylive-failure" not in b, 60, server, "the recovery")
