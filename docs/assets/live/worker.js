// One run of CPython on WebAssembly (Pyodide), in a worker thread of its own: an example
// that runs long never freezes the page, one that hangs is stopped by ending its worker,
// and ending the worker after the run frees everything the run used. (Instances restored
// one after the other in the same worker keep each other's memory alive: about 50 MB a run.)
//
// A run goes as in the build's Node host (pylive/wasm_host.mjs): the Python side is the
// same file, wasm_runner.py, and the interpreter is restored from a memory snapshot taken
// once after start-up, so that no run sees what an earlier one left behind (interned
// strings, caches, sys.modules), as separate processes would not.
//
// Messages in:  {t: "start", runtime: URL of the runtime's folder, live: URL of assets/live/}
//                 the first worker of a runtime: download, compile and start it, snapshot it;
//               {t: "prepare", runtime, module, snapshot, stdlib, lock, driver, version}
//                 any later worker, from what the first one made;
//               {t: "run", kind: "script" | "transcript", code, statements, files}.
// Messages out: {t: "started", ...what a later worker needs} (the first worker only),
//               {t: "ready"} once an interpreter waits for the run, {t: "running"} when the
//               example starts (the page starts its clock), {t: "done", output, outputs,
//               returncode}, or {t: "failed", message} when the runtime itself failed.

// What Python sees in os.environ, as in the build (wasm_host.mjs).
const PY_ENV = { HOME: "/home/pyodide", LANG: "C.UTF-8", LC_ALL: "C.UTF-8", PAGER: "cat", TERM: "dumb", COLUMNS: "80" };
const MAX_OUTPUT = 1 << 20; // characters kept, as in the build

let py = null; // the interpreter this worker runs the example in
let driver = null; // repl_driver.py, for a transcript

async function download(url, as) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} (HTTP ${response.status})`);
  return response[as]();
}

// Pyodide's loader fetches and compiles its files each time it starts: here it gets the
// module compiled once and the standard library from memory instead.
async function loader(runtime, module, stdlib) {
  WebAssembly.instantiateStreaming = async (source, imports) =>
    ({ instance: await WebAssembly.instantiate(module, imports), module });
  const kept = new Map([[new URL("python_stdlib.zip", runtime).href, stdlib],
    [new URL("pyodide.asm.wasm", runtime).href, new ArrayBuffer(0)]]); // its body goes unread
  const network = self.fetch;
  self.fetch = (url, options) =>
    kept.has(String(url)) ? Promise.resolve(new Response(kept.get(String(url)))) : network(url, options);
  return (await import(new URL("pyodide.mjs", runtime).href)).loadPyodide;
}

// The first worker of a runtime: what every later one restores from.
async function start(runtime, live) {
  const [wasm, stdlib, lock, runner, replDriver] = await Promise.all([
    download(new URL("pyodide.asm.wasm", runtime), "arrayBuffer"),
    download(new URL("python_stdlib.zip", runtime), "arrayBuffer"),
    download(new URL("pyodide-lock.json", runtime), "text"),
    download(new URL("wasm_runner.py", live), "text"),
    download(new URL("repl_driver.py", live), "text"),
  ]);
  const module = await WebAssembly.compile(wasm);
  const loadPyodide = await loader(runtime, module, stdlib);
  const base = await loadPyodide({ indexURL: runtime, env: PY_ENV, lockFileContents: lock, _makeSnapshot: true,
    stdout: () => {}, stderr: () => {} });
  const version = base.runPython("__import__('sys').version.split()[0]");
  base.runPython(runner);
  const snapshot = base.makeMemorySnapshot();
  return { runtime, module, snapshot, stdlib, lock, driver: replDriver, version };
}

async function prepare(made) {
  const loadPyodide = await loader(made.runtime, made.module, made.stdlib);
  py = await loadPyodide({ indexURL: made.runtime, env: PY_ENV, lockFileContents: made.lock,
    _loadSnapshot: made.snapshot, stdout: () => {}, stderr: () => {} });
  driver = made.driver;
}

// Run one job as wasm_host.mjs's runOne does.
function run(job) {
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
  return { output: chunks.join("") + cut, outputs, returncode };
}

self.onmessage = async ({ data }) => {
  try {
    if (data.t === "run") {
      self.postMessage({ t: "running" });
      self.postMessage({ t: "done", ...run(data) });
    } else {
      const made = data.t === "start" ? await start(data.runtime, data.live) : data;
      await prepare(made);
      if (data.t === "start") self.postMessage({ t: "started", ...made });
      self.postMessage({ t: "ready" });
    }
  } catch (error) {
    self.postMessage({ t: "failed", message: String((error && error.message) || error) });
  }
};
