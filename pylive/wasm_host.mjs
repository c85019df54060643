// Host one CPython-on-WebAssembly runtime (a Pyodide package folder) for the build.
//
//     node wasm_host.mjs PACKAGE_DIR [WORKERS]
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
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

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

// Every instance of a runtime in a process reuses one compiled WebAssembly module: Pyodide
// compiles pyodide.asm.wasm from its bytes on each load, which costs more CPU than the
// restore itself. Instantiating a compiled module gives the same fresh instance.
function shareCompiledModule(compiled) {
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = async function (source, imports) {
    if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
      return { instance: await instantiate.call(WebAssembly, compiled, imports), module: compiled };
    }
    return instantiate.call(WebAssembly, source, imports);
  };
}

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
        const text = decoder.decode(buffer, { stream: true });
        if (text) parentPort.postMessage({ t: "out", s: text });
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
          parentPort.postMessage({ t: "stmt", s: new TextDecoder().decode(new Uint8Array(line)) });
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
  for (let done = 0; done < RETIRE_AFTER; done++) {
    const py = await loadPyodide({
      indexURL: packageDir + "/",
      _loadSnapshot: new Uint8Array(snapshot),
      env: PY_ENV,
    });
    parentPort.postMessage({ t: "ready" });
    const job = await new Promise((res) => parentPort.once("message", res));
    const returncode = runOne(py, job);
    const source = [job.code || "", ...(job.statements || []), ...Object.values(job.files || {})].join("\n");
    const bridged = USES_JAVASCRIPT.test(source) || py.runPython("'js' in __import__('sys').modules");
    parentPort.postMessage({ t: "done", returncode, reusable: !bridged && done + 1 < RETIRE_AFTER });
    if (bridged) break;
  }
  // Retired: the host terminates this thread and starts another.
}

// ---------------------------------------------------------------- main: the protocol
async function hostMain() {
  // stdout carries the protocol only: console output of the runtime goes to stderr.
  for (const name of ["log", "info", "debug"]) console[name] = console.error;
  const packageDir = resolve(process.argv[2] || "");
  const driver = readFileSync(join(HERE, "repl_driver.py"), "utf-8");
  const started = performance.now();
  const loadPyodide = await importPyodide(packageDir);
  const base = await loadPyodide({
    indexURL: packageDir + "/",
    _makeSnapshot: true,
    env: PY_ENV,
    stdout: () => {},
    stderr: (s) => process.stderr.write(s + "\n"),
  });
  base.runPython(RUNNER);
  const bytes = base.makeMemorySnapshot();
  const snapshot = new SharedArrayBuffer(bytes.length);
  new Uint8Array(snapshot).set(bytes);

  const compiled = await WebAssembly.compile(readFileSync(join(packageDir, "pyodide.asm.wasm")));
  const coldSeconds = (performance.now() - started) / 1000;

  // A worker thread and the promise of its next restored instance.
  const spawn = () => {
    const worker = new Worker(fileURLToPath(import.meta.url), {
      workerData: { packageDir, snapshot, compiled },
      env: {},
      stdout: true, // anything the runtime logs to the console stays off the protocol
      stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.resume();
    return { worker, ready: nextReady(worker) };
  };
  const nextReady = (worker) => {
    const ready = new Promise((res, rej) => {
      const onMessage = (m) => {
        if (m.t !== "ready") return;
        cleanup();
        res();
      };
      const onError = (e) => {
        cleanup();
        rej(e);
      };
      const onExit = (code) => {
        cleanup();
        rej(new Error(`worker exited with ${code} while starting`));
      };
      const cleanup = () => {
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
    });
    ready.catch(() => {});
    return ready;
  };
  const retire = (slot) => {
    slot.worker.removeAllListeners();
    slot.worker.on("error", () => {});
    slot.worker.terminate();
  };
  // Worker threads (WORKERS, the second argument, default 1), each restoring its next
  // instance while others run: more use more cores and memory, and hide more of the restore
  // when examples come back to back.
  const count = Math.max(1, Number.parseInt(process.argv[3] || "1", 10) || 1);
  const idle = [];
  while (idle.length < count) idle.push(spawn());

  const run = async (request) => {
    let current = idle.shift();
    try {
      await current.ready;
    } catch {
      retire(current);
      current = spawn();
      await current.ready;
    }
    const cap = request.max_output || 1 << 20;
    const timeout = (request.timeout || 10) * 1000;
    const t0 = performance.now();
    const chunks = [];
    const outputs = [];
    let size = 0;
    return await new Promise((res) => {
      let finished = false;
      const finish = (fields, reusable = false) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        current.worker.off("message", onMessage);
        current.worker.off("error", onError);
        current.worker.off("exit", onExit);
        if (reusable) {
          current.ready = nextReady(current.worker);
          idle.push(current);
        } else {
          retire(current);
          idle.push(spawn());
        }
        res({
          id: request.id,
          output: chunks.join(""),
          outputs,
          timed_out: false,
          truncated: false,
          crashed: "",
          seconds: (performance.now() - t0) / 1000,
          ...fields,
        });
      };
      const timer = setTimeout(() => finish({ returncode: -9, timed_out: true }), timeout);
      const onMessage = (m) => {
        if (m.t === "out") {
          if (size + m.s.length > cap) {
            chunks.push(m.s.slice(0, Math.max(0, cap - size)));
            size = cap;
            finish({ returncode: -9, truncated: true });
          } else {
            chunks.push(m.s);
            size += m.s.length;
          }
        } else if (m.t === "stmt") {
          outputs.push(JSON.parse(m.s));
        } else if (m.t === "done") {
          finish({ returncode: m.returncode }, m.reusable);
        }
      };
      const onError = (e) =>
        finish({ returncode: -11, crashed: `the WebAssembly runtime crashed: ${e && e.name}: ${e && e.message}` });
      const onExit = (code) => finish({ returncode: -11, crashed: `the WebAssembly runtime stopped (worker exit ${code})` });
      current.worker.on("message", onMessage);
      current.worker.on("error", onError);
      current.worker.on("exit", onExit);
      current.worker.postMessage({
        kind: request.kind,
        code: request.code,
        statements: request.statements,
        files: request.files || {},
        driver,
        stdin: request.kind === "transcript" ? JSON.stringify(request.statements || []) : "",
      });
    });
  };

  const send = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
  send({ id: null, ready: true, seconds: coldSeconds });

  // One request at a time, in order.
  let queue = Promise.resolve();
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on("line", (text) => {
    if (!text.trim()) return;
    queue = queue.then(async () => {
      let request;
      try {
        request = JSON.parse(text);
        send(await run(request));
      } catch (e) {
        send({ id: request ? request.id : null, output: "", outputs: [], returncode: -1, timed_out: false,
               truncated: false, crashed: `host error: ${e && e.stack}` });
      }
    });
  });
  lines.on("close", () => queue.then(() => process.exit(0)));
}

if (isMainThread) {
  await hostMain();
} else {
  await workerMain();
}
