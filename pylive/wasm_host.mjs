// Host one CPython-on-WebAssembly runtime (a Pyodide package folder) for the build.
//
//     node wasm_host.mjs PACKAGE_DIR [WORKERS [SNAPSHOT]]
//
// SNAPSHOT, a file: the memory snapshot to start from if it exists, else where to write
// the one this host makes (pylive/wasm.py keeps it for the next host of the same runtime).
//
// Speaks line-delimited JSON: one request per line on stdin, one response per line on
// stdout (the first line says the runtime is ready). See pylive/wasm.py for the protocol
// and for the measurements behind the design, which in short is:
//
// * the runtime is loaded once (about 2 s), a memory snapshot of it is taken, and its
//   WebAssembly module is compiled once and shared with every worker thread;
// * every example runs in a fresh instance restored from that snapshot: its own memory,
//   interpreter and file system, so examples share no Python state at all, exactly like
//   separate `python example.py` processes;
// * a worker thread restores the next instance as soon as its example ends, so the restore
//   overlaps whatever comes next; a worker is retired (and a new one started) after an
//   example that used Pyodide's bridge to JavaScript, whose globals the next instance in
//   the same thread would see, and after RETIRE_AFTER examples;
// * a timeout, an output flood or a crash of the WebAssembly runtime (deep C recursion)
//   ends that worker only; the host lives on and the next example gets a fresh instance.
//
// The protocol and the worker threads are wasm_serve.mjs, shared with micropython_host.mjs.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isMainThread, workerData } from "node:worker_threads";
import { output, serve, shareCompiledModule, statementOutput, work } from "./wasm_serve.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));

// What Python inside the runtime sees in os.environ: never the host's environment.
const PY_ENV = {
  HOME: "/home/pyodide",
  LANG: "C.UTF-8",
  LC_ALL: "C.UTF-8",
  PAGER: "cat",
  TERM: "dumb",
  COLUMNS: "80",
};

// Prepared once in the snapshot: the functions that run an example the way
// `python -u example.py` and `python -u repl_driver.py RESULTS` would (shared with the
// in-browser runtime of the site, docs/assets/live/worker.js).
const RUNNER = readFileSync(join(HERE, "wasm_runner.py"), "utf-8");

const PROBE = String.raw`
import json, platform, sys, sysconfig
gil = getattr(sys, "_is_gil_enabled", None)
print(json.dumps({
    "path": sys.executable,
    "version": platform.python_version(),
    "implementation": platform.python_implementation(),
    "cache_tag": sys.implementation.cache_tag,
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "gil_enabled": gil() if gil else True,
    "debug": hasattr(sys, "gettotalrefcount"),
    "virtual_env": sys.prefix != sys.base_prefix,
    "platform": sys.platform,
    "machine": platform.machine(),
    "sizeof_pointer": sysconfig.get_config_var("SIZEOF_VOID_P"),
}))
`;

async function importPyodide(packageDir) {
  const module = await import(pathToFileURL(join(packageDir, "pyodide.mjs")).href);
  return module.loadPyodide;
}

// Source that names Pyodide's bridge to JavaScript: such an example may change what the
// next instance in the same worker thread sees of JavaScript, so its worker is retired.
const USES_JAVASCRIPT = /\bjs\b|pyodide/;
const RETIRE_AFTER = 40; // examples per worker thread, which bounds what instances leave behind

// ---------------------------------------------------------------- worker: one example at a time
function runOne(py, job) {
  const writer = () => {
    const decoder = new TextDecoder("utf-8");
    return {
      write(buffer) {
        output(decoder.decode(buffer, { stream: true }));
        return buffer.length;
      },
    };
  };
  py.setStdout(writer());
  py.setStderr(writer());
  const input = new TextEncoder().encode(job.stdin || "");
  let offset = 0;
  py.setStdin({
    read(buffer) {
      const n = Math.min(buffer.length, input.length - offset);
      buffer.set(input.subarray(offset, offset + n));
      offset += n;
      return n;
    },
  });

  // The transcript driver writes one JSON line per statement into this device, so a
  // statement that hangs still leaves the earlier results with the host.
  let line = [];
  const device = py.FS.makedev(64, 0);
  py.FS.registerDevice(device, {
    open() {},
    close() {},
    read() {
      return 0;
    },
    write(stream, buffer, off, length) {
      for (let i = 0; i < length; i++) {
        const byte = buffer[off + i];
        if (byte === 10) {
          statementOutput(new TextDecoder().decode(new Uint8Array(line)));
          line = [];
        } else {
          line.push(byte);
        }
      }
      return length;
    },
  });
  py.FS.mkdev("/dev/pylive-results", device);

  const files = py.toPy(job.files || {});
  if (job.kind === "probe") {
    py.runPython(PROBE, { globals: py.toPy({}) });
    return 0;
  }
  if (job.kind === "transcript") return py.globals.get("_pylive_transcript")(job.driver, files);
  return py.globals.get("_pylive_script")(job.code, files);
}

async function workerMain() {
  const { packageDir, snapshot, compiled } = workerData;
  shareCompiledModule(compiled);
  const loadPyodide = await importPyodide(packageDir);
  await work({
    load: () => loadPyodide({ indexURL: packageDir + "/", _loadSnapshot: new Uint8Array(snapshot), env: PY_ENV }),
    run: runOne,
    keep(py, job) {
      const source = [job.code || "", ...(job.statements || []), ...Object.values(job.files || {})].join("\n");
      return !USES_JAVASCRIPT.test(source) && !py.runPython("'js' in __import__('sys').modules");
    },
    most: RETIRE_AFTER,
  });
}

// The runtime's module is compiled once (for this load too), the runtime loaded once and a
// snapshot of it taken, or the snapshot an earlier host took read back.
async function prepare(packageDir) {
  const compiled = await WebAssembly.compile(readFileSync(join(packageDir, "pyodide.asm.wasm")));
  shareCompiledModule(compiled);
  const kept = process.argv[4];
  let bytes;
  if (kept && existsSync(kept)) {
    bytes = readFileSync(kept);
    // One instance restored here first: a snapshot that does not restore (cut short, or
    // not a snapshot) stops the host before it says it is ready, and wasm.py makes a new one.
    const loadPyodide = await importPyodide(packageDir);
    await loadPyodide({ indexURL: packageDir + "/", _loadSnapshot: bytes, env: PY_ENV });
  } else {
    bytes = await makeSnapshot(packageDir);
    if (kept) writeFileSync(kept, bytes);
  }
  const snapshot = new SharedArrayBuffer(bytes.length);
  new Uint8Array(snapshot).set(bytes);
  return { packageDir, snapshot, compiled };
}

async function makeSnapshot(packageDir) {
  const loadPyodide = await importPyodide(packageDir);
  const base = await loadPyodide({
    indexURL: packageDir + "/",
    _makeSnapshot: true,
    env: PY_ENV,
    stdout: () => {},
    stderr: (s) => process.stderr.write(s + "\n"),
  });
  base.runPython(RUNNER);
  return base.makeMemorySnapshot();
}

if (isMainThread) {
  await serve(fileURLToPath(import.meta.url), prepare);
} else {
  await workerMain();
}
