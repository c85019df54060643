"""How long a contributor waits: the build benchmark (`make bench`).

Measures, on a temporary copy of the repository (the real docs are never edited):

1. a clean strict build, as CI runs it (`mkdocs build --strict`, no result cache), with
   where its time went (the plugin's summary), and the same build without the WebAssembly
   runtimes (PYLIVE_WASM=0), to show what they cost;
2. the same build with code execution switched off (PYLIVE_EXECUTE=0);
3. a strict build with a warm result cache (what `make serve` keeps in .cache/pylive);
4. `make serve`'s command line, exactly as the Makefile writes it (on a free port): the
   time from a one-word prose edit, and from an edit of an example's code, to the served
   page that shows it;
5. the reader's Run in the browser, on the clean build (bench_browser.py): the first Run,
   a warm Run, and the bytes they transfer.

It prints the figures and their ratios. It is a benchmark, not a test: the figures
depend on the machine and on how busy it is.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_browser  # noqa: E402 - beside this file

ROOT = Path(__file__).resolve().parent.parent
IGNORED = shutil.ignore_patterns(".git", ".venv", "site", ".cache", "node_modules", "__pycache__", "*.pyc")
RAN = re.compile(r"pylive: ran (\d+) examples")


@dataclass
class Timed:
    seconds: float
    ok: bool
    examples: int | None
    log: str


def _env(**changes: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYLIVE_CACHE", "PYLIVE_EXECUTE")}
    env["NO_MKDOCS_2_WARNING"] = "1"
    for key, value in changes.items():
        if value is not None:
            env[key] = value
    return env


def build(copy: Path, out: Path, **env: str | None) -> Timed:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=copy, env=_env(**env), capture_output=True, text=True,
    )
    seconds = time.perf_counter() - started
    log = done.stdout + done.stderr
    ran = RAN.search(log)
    return Timed(seconds, done.returncode == 0, int(ran[1]) if ran else None, log)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return None


def page_url(src: str) -> str:
    """The URL path of a docs page: `running/pipeline.md` -> `running/pipeline/`."""
    path = Path(src)
    parts = list(path.parent.parts)
    if path.stem not in ("index", "README"):
        parts.append(path.stem)
    return "/".join(parts) + ("/" if parts else "")


def mount_path(copy: Path, config_file: str = "mkdocs.yml") -> str:
    """Where `mkdocs serve` mounts the site: the path of site_url (as MkDocs 1.6 does), from
    the config file the command names (an INHERIT-ing file may set its own)."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    config = yaml.load((copy / config_file).read_text(encoding="utf-8"), Loader=Loader)
    if "site_url" not in config and "INHERIT" in config:
        return mount_path(copy, config["INHERIT"])
    from urllib.parse import urlsplit

    return urlsplit(config.get("site_url") or "/").path.rstrip("/") + "/"


def prose_word(text: str) -> tuple[int, int]:
    """Where a word of prose is (start, end): outside the front matter, fences, headings,
    tables and lists."""
    front = re.match(r"---\n.*?\n---\n", text, re.S)
    offset, fence = (front.end(), None) if front else (0, None)
    for line in text[offset:].splitlines(keepends=True):
        stripped = line.strip()
        opened = re.match(r"(`{3,}|~{3,})", stripped)
        if fence:
            if stripped.startswith(fence):
                fence = None
        elif opened:
            fence = opened[1]
        elif stripped and not re.match(r"[#|>!\-*+=<\[{/0-9:]", stripped) and not stripped.startswith("---"):
            word = re.search(r"(?<![\w`\[(./-])[A-Za-z]{5,}(?![\w`\])./-])", line)
            if word:
                return offset + word.start(), offset + word.end()
        offset += len(line)
    raise SystemExit("no word of prose found in the page to edit")


def stop(server: subprocess.Popen) -> None:
    """End the server this script started, and its children (its own process group)."""
    if server.poll() is not None:
        return
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    except ProcessLookupError:
        pass


def make_serve(copy: Path) -> tuple[dict[str, str], list[str]]:
    """The environment settings and `mkdocs serve` options of the Makefile's `serve` recipe,
    so that the benchmark serves the site exactly as `make serve` does."""
    recipe = re.search(r"^serve:.*\n\t(?P<line>.+)$", (copy / "Makefile").read_text(encoding="utf-8"), re.M)
    if recipe is None:
        return {"PYLIVE_CACHE": ".cache/pylive"}, []
    words = recipe["line"].split()
    settings = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
        name, _, value = words.pop(0).partition("=")
        settings[name] = value
    options = words[words.index("serve") + 1:] if "serve" in words else []
    if "--dev-addr" in options:  # the benchmark serves on a free port of its own
        at = options.index("--dev-addr")
        del options[at:at + 2]
    return settings, [o for o in options if not o.startswith("--dev-addr=")]


def code_line(text: str) -> int:
    """The offset just after the first line of the first python fence that runs as it is."""
    match = re.search(r"^```python[^\n]*\n(?!--8<--)[^\n]*\n", text, re.M)
    if match is None:
        raise SystemExit("no python fence found in the page to edit")
    return match.end()


def serve_edits(copy: Path, page: str, edits: int, startup_timeout: float) -> dict:
    """Start `mkdocs serve` exactly as `make serve` does, then time `edits` one-word prose
    changes and `edits` changes of an example's code (which must run again)."""
    port = free_port()
    settings, options = make_serve(copy)
    command = [sys.executable, "-m", "mkdocs", "serve", *options, "--dev-addr", f"127.0.0.1:{port}"]
    config_file = options[options.index("-f") + 1] if "-f" in options else "mkdocs.yml"
    # Relative paths (PYLIVE_CACHE=.cache/pylive) are relative to the copy, the server's folder.
    env = _env(**settings)
    log = tempfile.TemporaryFile()
    started = time.perf_counter()
    server = subprocess.Popen(command, cwd=copy, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}{mount_path(copy, config_file)}{page_url(page)}"
    result: dict = {"url": url, "prose": [], "code": []}
    source = copy / "docs" / page
    original = source.read_text(encoding="utf-8")

    def time_edit(text: str, marker: str) -> float:
        source.write_text(text, encoding="utf-8")
        changed = time.perf_counter()
        while True:
            served = fetch(url)
            if served is not None and marker in served:
                return time.perf_counter() - changed
            if time.perf_counter() - changed > startup_timeout:
                raise RuntimeError(f"the edit of docs/{page} never showed at {url}")
            time.sleep(0.05)

    try:
        while fetch(url) is None:
            if server.poll() is not None or time.perf_counter() - started > startup_timeout:
                log.seek(0)
                raise RuntimeError(f"mkdocs serve did not serve {url}:\n{log.read().decode()[-3000:]}")
            time.sleep(0.2)
        result["startup"] = time.perf_counter() - started
        time.sleep(1.0)  # let the watcher settle after the first build
        start, end = prose_word(original)
        at = code_line(original)
        for _ in range(edits):
            marker = f"Benchword{uuid.uuid4().hex[:10]}"  # each edit: the same word, a new spelling
            result["prose"].append(time_edit(original[:start] + marker + original[end:], marker))
            time.sleep(1.0)  # let the rebuild finish before the next edit
            marker = f"Benchcode{uuid.uuid4().hex[:10]}"
            result["code"].append(time_edit(original[:at] + f'print("{marker}")\n' + original[at:], marker))
            time.sleep(1.0)
        source.write_text(original, encoding="utf-8")
    finally:
        stop(server)
        log.close()
    return result


SUMMARY = re.compile(r"pylive: ran .*")
NOTEBOOK = re.compile(r"labs: ran \S+ in ([\d.]+) s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", default="running/pipeline.md",
                        help="the page to edit, under docs/ (default: running/pipeline.md)")
    parser.add_argument("--edits", type=int, default=3, help="prose and code edits each (default: 3)")
    parser.add_argument("--no-serve", action="store_true", help="measure the builds only")
    parser.add_argument("--no-browser", action="store_true", help="do not measure Run in the browser")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for a serve build")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pylive-bench-") as scratch:
        copy = Path(scratch) / "repo"
        shutil.copytree(ROOT, copy, ignore=IGNORED, symlinks=True)
        if (ROOT / "node_modules").is_dir():  # the WebAssembly runtimes, installed by `npm ci`
            (copy / "node_modules").symlink_to(ROOT / "node_modules")
        print(f"Benchmark of the site build, on a copy of {ROOT} in {copy}")
        print(f"{platform.python_implementation()} {platform.python_version()}, {platform.platform()}, "
              f"{os.cpu_count()} cores, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}\n")

        kept = sorted(p.name for p in (ROOT / "node_modules" / ".cache" / "pylive").glob("*.snapshot"))
        print("WebAssembly hosts start from the memory snapshots kept at installation: " + ", ".join(kept)
              if kept else "No memory snapshot is kept yet: the first WebAssembly host of each runtime makes it")
        figures: dict[str, float | None] = {}
        clean = build(copy, Path(scratch) / "out-clean")
        figures["clean"] = clean.seconds
        print(f"1. clean strict build, no cache:        {clean.seconds:7.1f} s"
              f"  ({clean.examples} examples run){'' if clean.ok else '  THE BUILD FAILED'}")
        if not clean.ok:
            print("\n".join(clean.log.splitlines()[-15:]))

        summary = SUMMARY.search(clean.log)
        print(f"   where the time went: {summary[0] if summary else 'no summary in the log'}")
        notebooks = [float(seconds) for seconds in NOTEBOOK.findall(clean.log)]
        print(f"   lab notebooks: {len(notebooks)} run in {sum(notebooks):.1f} s, in a thread beside the rest")
        without = build(copy, Path(scratch) / "out-native", PYLIVE_WASM="0")
        figures["native"] = without.seconds
        print(f"1b. the same without WebAssembly:       {without.seconds:7.1f} s  ({without.examples} examples run)"
              f"{'' if without.ok else '  THE BUILD FAILED'}")

        off = build(copy, Path(scratch) / "out-off", PYLIVE_EXECUTE="0")
        if off.examples == 0:
            figures["off"] = off.seconds
            print(f"2. strict build, execution off:         {off.seconds:7.1f} s"
                  f"{'' if off.ok else '  THE BUILD FAILED'}")
        else:
            figures["off"] = None
            print(f"2. strict build, execution off:         unavailable (PYLIVE_EXECUTE=0 is not supported "
                  f"by the plugin yet: {off.examples} examples still ran, in {off.seconds:.1f} s)")

        cache = copy / ".cache" / "pylive"
        build(copy, Path(scratch) / "out-fill", PYLIVE_CACHE=str(cache))  # fill the cache
        warm = build(copy, Path(scratch) / "out-warm", PYLIVE_CACHE=str(cache))
        figures["warm"] = warm.seconds
        print(f"3. strict build, warm result cache:     {warm.seconds:7.1f} s")

        if not args.no_serve:
            settings, options = make_serve(copy)
            shown = " ".join([*(f"{k}={v}" for k, v in settings.items()), "mkdocs serve", *options])
            print(f"   (started exactly as `make serve` starts it: {shown})")
            served = serve_edits(copy, args.page, args.edits, args.timeout)
            for kind in ("prose", "code"):
                median = statistics.median(served[kind])
                figures[kind] = median
                each = ", ".join(f"{t:.2f}" for t in served[kind])
                print(f"4. make serve, {kind} edit -> page rebuilt: median {median:.2f} s ({each}), docs/{args.page}"
                      f"; first build {served['startup']:.1f} s")

        if not args.no_browser:
            print("5. the reader's Run, in headless Chromium, on the clean build:")
            try:
                print(bench_browser.report(bench_browser.measure(Path(scratch) / "out-clean")))
            except Exception as error:  # noqa: BLE001 - a benchmark reports what it could not measure
                print(f"   unavailable: {type(error).__name__}: {error}")

        print("\nRatios to the clean strict build:")
        for key, label in (("native", "without WebAssembly"), ("off", "execution off"), ("warm", "warm cache"),
                           ("prose", "serve: prose edit to rebuilt"), ("code", "serve: code edit to rebuilt")):
            value = figures.get(key)
            if key in figures:
                shown = "unavailable" if value is None else f"{value / figures['clean']:.3f}  ({value:.2f} s)"
                print(f"  {label:<32} {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
