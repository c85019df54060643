"""Lighthouse scores of the built site, on a phone (`make lighthouse`).

Serves a built site on 127.0.0.1 with its text gzip-compressed, as a static host sends it,
and runs Lighthouse (npm, pinned in checks/package.json; `npm ci` in checks/ installs it)
with its default mobile settings (a mid-range phone, throttled network and CPU) against
the machine's Chromium, on the pages that weigh the most: the home page, a page of dis
listings, a page of timing charts and a lab. Each page is scored three times (Lighthouse's
advice: its scores vary between runs) and the median run is shown. It exits with 1 when a
page scores under the targets (performance 85, the others 100).

    python scripts/lighthouse.py --site site        # a site built before
    python scripts/lighthouse.py                    # builds the site first (strict)

Like `make bench`, it measures: the figures depend on the machine and on how busy it is.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE = ROOT / "checks" / "node_modules" / "lighthouse" / "cli" / "index.js"
PAGES = ["", "running/code-objects-and-dis/", "performance/comparisons/", "labs/memory/"]
CATEGORIES = {"performance": 85, "accessibility": 100, "best-practices": 100, "seo": 100}
COMPRESSED = ("text/", "application/javascript", "application/json", "application/xml", "image/svg+xml")
# Audits worth reading when performance is short of its target.
DETAILS = ["first-contentful-paint", "largest-contentful-paint", "total-blocking-time", "cumulative-layout-shift",
           "speed-index", "dom-size", "total-byte-weight"]


class Gzipped(SimpleHTTPRequestHandler):
    """The site's files, text gzip-compressed as static hosts send it."""

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def send_head(self):  # type: ignore[override]
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            if not self.path.split("?")[0].endswith("/"):
                return super().send_head()  # the redirect to the folder's URL
            path = path / "index.html"
        kind = self.guess_type(str(path))
        if not path.is_file() or not kind.startswith(COMPRESSED) or "gzip" not in self.headers.get("Accept-Encoding", ""):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return _Body(body)


class _Body:
    """What send_head returns: a file-like object that do_GET copies to the client."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> bytes:
        data, self.data = self.data, b""
        return data

    def close(self) -> None:
        pass


def chromium() -> str:
    for candidate in (os.environ.get("PYLIVE_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                      shutil.which("google-chrome")):
        if candidate:
            return candidate
    raise SystemExit("no Chromium found (Debian: apt-get install chromium; or set PYLIVE_CHROMIUM)")


def build(out: Path) -> None:
    print(f"Building the site (mkdocs build --strict) into {out} ...", flush=True)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the site did not build:\n{done.stderr[-3000:]}")


def audit(url: str, browser: str, report: Path) -> dict:
    """Lighthouse's JSON report of `url`, mobile preset (Lighthouse's default)."""
    node = shutil.which("node")
    if node is None or not LIGHTHOUSE.is_file():
        raise SystemExit("Lighthouse is not installed: run `npm ci` in checks/ (make lighthouse does)")
    flags = "--headless=new --no-sandbox --disable-gpu --no-first-run --disable-background-networking"
    done = subprocess.run(
        [node, str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={report}",
         f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={flags}"],
        env={**os.environ, "CHROME_PATH": browser}, capture_output=True, text=True, timeout=600,
    )
    if done.returncode != 0 or not report.is_file():
        raise SystemExit(f"Lighthouse failed on {url}:\n{done.stderr[-3000:]}")
    return json.loads(report.read_text(encoding="utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build one into a temporary folder)")
    parser.add_argument("--page", action="append", help="a page's URL path, as 'labs/memory/' (default: four pages)")
    parser.add_argument("--details", action="store_true", help="print the metrics behind each performance score")
    parser.add_argument("--runs", type=int, default=3, help="runs per page, of which the median counts (default 3)")
    args = parser.parse_args()
    browser = chromium()
    with tempfile.TemporaryDirectory(prefix="pylive-lighthouse-") as scratch:
        site = args.site
        if site is None:
            site = Path(scratch) / "site"
            build(site)
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Gzipped, directory=str(site)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        origin = f"http://127.0.0.1:{server.server_address[1]}/"
        print(f"Lighthouse {_version()} (mobile), {browser}, on {site} served gzip-compressed at {origin}; "
              f"median of {args.runs} run(s); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
        print(f"{'page':<34}" + "".join(f"{name:>16}" for name in CATEGORIES))
        short = []
        try:
            for path in args.page or PAGES:
                runs = [audit(origin + path, browser, Path(scratch) / "report.json") for _ in range(args.runs)]
                failed = [r["runtimeError"]["message"] for r in runs if r.get("runtimeError")]
                if failed:
                    print(f"{'/' + path:<34}Lighthouse could not score the page: {failed[0]}")
                    short.append(f"/{path}: not scored ({failed[0]})")
                    continue
                result = sorted(runs, key=lambda r: r["categories"]["performance"]["score"] or 0)[len(runs) // 2]
                scores = {name: round(100 * (result["categories"][name]["score"] or 0)) for name in CATEGORIES}
                print(f"{'/' + path:<34}" + "".join(f"{score:>16}" for score in scores.values()), flush=True)
                short += [f"/{path}: {name} {score} < {CATEGORIES[name]}" for name, score in scores.items()
                          if score < CATEGORIES[name]]
                if args.details or scores["performance"] < CATEGORIES["performance"]:
                    audits = result["audits"]
                    every = ", ".join(str(round(100 * (r["categories"]["performance"]["score"] or 0))) for r in runs)
                    print(f"    performance of each run {every}; CPU benchmark index "
                          f"{result['environment'].get('benchmarkIndex', '?')}; "
                          + ", ".join(f"{audits[a]['title'].lower()} {audits[a].get('displayValue', '?')}"
                                      for a in DETAILS if a in audits))
        finally:
            server.shutdown()
            server.server_close()
    print("\n" + ("\n".join(["Under target:", *short]) if short else "Every page meets its targets: "
                  + ", ".join(f"{name} >= {target}" for name, target in CATEGORIES.items())))
    return 1 if short else 0


def _version() -> str:
    package = LIGHTHOUSE.parent.parent / "package.json"
    return json.loads(package.read_text(encoding="utf-8"))["version"] if package.is_file() else "?"


if __name__ == "__main__":
    sys.exit(main())
