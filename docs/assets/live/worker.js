// One CPython on WebAssembly (Pyodide) for the page, in a worker thread: an example that
// runs long never freezes the page, and one that hangs is stopped by ending the worker.
//
// It runs examples exactly as the build's Node host does (pylive/wasm_host.mjs): the
// Python side is the same file, wasm_runner.py, and every run gets a fresh interpreter
// restored from a memory snapshot taken once after start-up, so that no run sees what an
// earlier one left behind (interned strings, caches, sys.modules), as separate processes.
//
// Messages in:  {runtime: URL of the runtime's folder, live: URL of assets/live/,
//                kind: "script" | "transcript", code, statements, files: {name: text}}
// Messages out: {t: "running"} when the example starts (the page starts its clock), then
//               {t: "done", output, outputs, returncode, version, reusable}
//               or {t: "failed", message} when the runtime itself could not start.

// What Python sees in os.environ, as in the build (wasm_host.mjs).
const PY_ENV = { HOME: "/home/pyodide", LANG: "C.UTF-8", LC_ALL: "C.UTF-8", PAGER: "cat", TERM: "dumb", COLUMNS: "80" };
const MAX_OUTPUT = 1 << 20; // characters kept, as in the build
// Source that names Pyodide's bridge to JavaScript may change this worker's globals, which
// the next instance would see: the page then starts a new worker (as the build's host does).
const USES_JAVASCRIPT = /\bjs\b|pyodide/;

let runtime = null; // promise of {fresh(), version, driver}
let next = null; // promise of the next fresh instance, restored while the reader reads

async function start(runtimeURL, liveURL) {
  const get = async (url, as) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url} (HTTP ${response.status})`);
    return response[as]();
  };
  const wasmURL = new URL("pyodide.asm.wasm", runtimeURL).href;
  const stdlibURL = new URL("python_stdlib.zip", runtimeURL).href;
  const [wasm, stdlib, lock, runner, driver] = await Promise.all([
    get(wasmURL, "arrayBuffer"),
    get(stdlibURL, "arrayBuffer"),
    get(new URL("pyodide-lock.json", runtimeURL), "text"),
    get(new URL("wasm_runner.py", liveURL), "text"),
    get(new URL("repl_driver.py", liveURL), "text"),
  ]);
  // Pyodide fetches and compiles its files on every start: each instance gets them from
  // memory instead, and the one module compiled here (as the build's host does).
  const compiled = await WebAssembly.compile(wasm);
  WebAssembly.instantiateStreaming = async (source, imports) =>
    ({ instance: await WebAssembly.instantiate(compiled, imports), module: compiled });
  const kept = new Map([[wasmURL, wasm], [stdlibURL, stdlib]]);
  const network = self.fetch;
  self.fetch = (url, options) =>
    kept.has(String(url)) ? Promise.resolve(new Response(kept.get(String(url)))) : network(url, options);

  const { loadPyodide } = await import(new URL("pyodide.mjs", runtimeURL).href);
  const options = { indexURL: runtimeURL, env: PY_ENV, lockFileContents: lock, stdout: () => {}, stderr: () => {} };
  const base = await loadPyodide({ ...options, _makeSnapshot: true });
  const version = base.runPython("__import__('sys').version.split()[0]");
  base.runPython(runner);
  const snapshot = base.makeMemorySnapshot();
  return { fresh: () => loadPyodide({ ...options, _loadSnapshot: snapshot }), version, driver };
}

// Run one job in a fresh instance `py`, as wasm_host.mjs's runOne does.
function runOne(py, job, driver) {
  const chunks = [];
  let size = 0;
  const writer = () => {
    const decoder = new TextDecoder("utf-8");
    return {
      write(buffer) {
        const text = decoder.decode(buffer, { stream: true });
        if (size < MAX_OUTPUT) chunks.push(text.slice(0, MAX_OUTPUT - size));
        size += text.length;
        return buffer.length;
      },
    };
  };
  py.setStdout(writer());
  py.setStderr(writer());
  const input = new TextEncoder().encode(job.kind === "transcript" ? JSON.stringify(job.statements) : "");
  let offset = 0;
  py.setStdin({
    read(buffer) {
      const n = Math.min(buffer.length, input.length - offset);
      buffer.set(input.subarray(offset, offset + n));
      offset += n;
      return n;
    },
  });
  // The transcript driver writes one JSON line per statement to this device.
  const outputs = [];
  let line = [];
  const device = py.FS.makedev(64, 0);
  py.FS.registerDevice(device, {
    open() {},
    close() {},
    read: () => 0,
    write(stream, buffer, at, length) {
      for (const byte of buffer.subarray(at, at + length)) {
        if (byte !== 10) line.push(byte);
        else {
          outputs.push(JSON.parse(new TextDecoder().decode(new Uint8Array(line))));
          line = [];
        }
      }
      return length;
    },
  });
  py.FS.mkdev("/dev/pylive-results", device);
  const files = py.toPy(job.files || {});
  const returncode = job.kind === "transcript"
    ? py.globals.get("_pylive_transcript")(driver, files)
    : py.globals.get("_pylive_script")(job.code, files);
  const cut = size > MAX_OUTPUT ? `\n[output cut: the example wrote more than ${MAX_OUTPUT >> 10} KB]\n` : "";
  const source = [job.code || "", ...(job.statements || [])].join("\n");
  const bridged = USES_JAVASCRIPT.test(source) || py.runPython("'js' in __import__('sys').modules");
  return { output: chunks.join("") + cut, outputs, returncode, reusable: !bridged };
}

self.onmessage = async ({ data: job }) => {
  try {
    runtime ??= start(job.runtime, job.live);
    const { fresh, version, driver } = await runtime;
    const py = await (next ?? fresh());
    self.postMessage({ t: "running" });
    const result = runOne(py, job, driver);
    self.postMessage({ t: "done", version, ...result });
    next = result.reusable ? fresh() : null;
  } catch (error) {
    self.postMessage({ t: "failed", message: String(error && error.message || error) });
  }
};
