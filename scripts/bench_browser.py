"""How long a reader waits for Run: the in-browser benchmark (part of `make bench`).

On a built site, served from 127.0.0.1 with text gzip-compressed as a static host sends it
(the WebAssembly module and the standard library's zip file are sent as they are),
headless Chromium (empty cache, every request to another host aborted) opens a page and:

1. loads it: what it transfers for a reader who never clicks Run;
2. clicks Run under its first example that runs in the browser: the time to the output
   (the runtime's download and start included) and the bytes that took;
3. a moment later (as a reader reads the output), clicks Run again, then under the next
   runnable example: the time of a warm Run;
4. on the bytecode playground, shows the bytecode on 3.14 and 3.15: both runtimes' start.

    python scripts/bench_browser.py SITE_FOLDER [--page running/code-objects-and-dis/]

It is a benchmark, not a test: the figures depend on the machine and how busy it is.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import os
import shutil
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

TARGETS = {"first": 10.0, "warm": 1.0}  # seconds, on the 2-core build machine
READING = 2.0  # seconds a reader looks at an output before the next Run
COMPRESSED = ("text/", "application/javascript", "application/json", "image/svg+xml")
RESULT = ".pylive-yours"


class Handler(SimpleHTTPRequestHandler):
    """The site's files, text gzip-compressed; counts the bytes sent and the files' sizes."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_head(self):  # noqa: ANN201 - the standard library's own signature
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        kind = self.guess_type(str(path))
        if not path.is_file() or not kind.startswith(COMPRESSED) or "gzip" not in self.headers.get("Accept-Encoding", ""):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), 6, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.server.count(path.stat().st_size)
        return _Sent(body)

    def copyfile(self, source, outputfile) -> None:  # noqa: ANN001
        data = source.read()
        self.server.sent += len(data)
        if not isinstance(source, _Sent):
            self.server.count(len(data))
        outputfile.write(data)


class _Sent:
    """A compressed body, read once by copyfile."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def read(self) -> bytes:
        return self.body

    def close(self) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: Path) -> None:
        super().__init__(("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
        self.sent = self.size = 0

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser closed with a download under way
            super().handle_error(request, client_address)

    def count(self, size: int) -> None:
        self.size += size

    def take(self) -> tuple[int, int]:
        taken, self.sent, self.size = (self.sent, self.size), 0, 0
        return taken


def _run(page: object, block: object) -> float:
    """Click Run under `block`; seconds until its output (a new one) is shown."""
    before = block.locator(RESULT).element_handle() if block.locator(RESULT).count() else None
    started = time.perf_counter()
    block.get_by_role("button", name="Run").click()
    page.wait_for_function("([block, before]) => { const r = block.querySelector('.pylive-yours'); return r && r !== before; }",
                           arg=[block.element_handle(), before], timeout=120_000)
    return time.perf_counter() - started


def measure(site: Path, page_path: str = "running/code-objects-and-dis/") -> dict[str, float | int | str]:
    """The figures above, for the built `site`."""
    from playwright.sync_api import sync_playwright

    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    if chromium is None:
        raise RuntimeError("Chromium is not installed (Debian: apt-get install chromium)")
    server = Server(site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    figures: dict[str, float | int | str] = {"page": page_path, "load": f"{os.getloadavg()[0]:.1f}"}
    elsewhere: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox",
                                                                                 "--disable-gpu"])
            context = browser.new_context()

            def route(request_route: object) -> None:  # nothing from another host; no HTTP cache
                if urlsplit(request_route.request.url).netloc != urlsplit(origin).netloc:
                    elsewhere.append(request_route.request.url)
                    request_route.abort("blockedbyclient")
                else:
                    request_route.continue_()

            context.route("**/*", route)
            page = context.new_page()
            page.goto(f"{origin}/{page_path}", wait_until="load")
            page.wait_for_load_state("networkidle")
            figures["page_sent"], figures["page_size"] = server.take()
            runnable = page.locator(".pylive-live:has(.pylive-controls)")
            figures["first"] = _run(page, runnable.nth(0))
            page.wait_for_load_state("networkidle")
            figures["first_sent"], figures["first_size"] = server.take()
            warm = []
            for block in (runnable.nth(0), runnable.nth(1)):
                page.wait_for_timeout(READING * 1000)
                warm.append(_run(page, block))
            figures["warm"] = max(warm)
            page.goto(f"{origin}/tools/bytecode-playground/", wait_until="load")
            started = time.perf_counter()
            page.get_by_role("button", name="Show bytecode").click()
            page.wait_for_function("document.querySelectorAll('.pylive-listings .pylive-yours').length === 2",
                                   timeout=120_000)
            figures["playground"] = time.perf_counter() - started
            browser.close()
    finally:
        server.shutdown()
    figures["other_hosts"] = len(elsewhere)
    return figures


def report(figures: dict[str, float | int | str]) -> str:
    def within(key: str) -> str:
        return f"(target ≤ {TARGETS[key]:g} s: {'met' if figures[key] <= TARGETS[key] else 'MISSED'})"

    return "\n".join([
        f"   page {figures['page']}, loaded with an empty cache: {figures['page_sent'] / 1e3:.1f} KB transferred"
        f" ({figures['page_size'] / 1e3:.1f} KB of files); no runtime file until Run",
        f"   first Run (runtime downloaded and started): {figures['first']:6.2f} s {within('first')}, "
        f"{figures['first_sent'] / 1e6:.1f} MB transferred ({figures['first_size'] / 1e6:.1f} MB of files)",
        f"   warm Run (the slower of the same example again and the next one, each {READING:g} s after the run"
        f" before): {figures['warm']:6.2f} s {within('warm')}",
        f"   playground, first listings of 3.14 and 3.15 (both runtimes started): {figures['playground']:6.2f} s",
        f"   requests to another host: {figures['other_hosts']}; load average when it started: {figures['load']}"
        f" on {os.cpu_count()} cores",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="a built site folder (mkdocs build -d SITE)")
    parser.add_argument("--page", default="running/code-objects-and-dis/", help="the page whose examples are run")
    args = parser.parse_args()
    print(f"Run in the browser, on {args.site}:")
    print(report(measure(args.site, args.page)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
