// The side of a WebAssembly runtime's Node host that every runtime shares: the protocol
// with pylive/wasm.py on stdin/stdout, and the worker threads that run one example at a
// time each, in a fresh instance of the runtime. wasm_host.mjs (CPython, by Pyodide) and
// micropython_host.mjs bring what is particular to their runtime:
//
// * `serve(workerFile, prepare)`, in the host's main thread: `prepare(packageDir)` does
//   the costly work once (load, snapshot, compile) and returns the data every worker
//   thread gets; the worker threads run `workerFile`;
// * `work({ load, run, keep, most })`, in each worker thread: `load()` makes a fresh
//   instance before its example comes, `run(instance, job)` runs the example and returns
//   its exit code, writing its output with `output(text)`, and `keep(instance, job)` says
//   whether the thread may serve another example (at most `most`).
//
// A timeout, an output flood or a crash of the runtime ends that worker only; the host
// lives on, and the next example gets a fresh instance.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Worker, parentPort } from "node:worker_threads";

const HERE = dirname(fileURLToPath(import.meta.url));

// Every instance of a runtime in a process reuses one compiled WebAssembly module: an
// Emscripten runtime compiles its .wasm file from its bytes on each load, which costs more
// CPU than making the instance itself. Instantiating a compiled module gives the same
// fresh instance.
export function shareCompiledModule(compiled) {
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = async function (source, imports) {
    if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
      return { instance: await instantiate.call(WebAssembly, compiled, imports), module: compiled };
    }
    return instantiate.call(WebAssembly, source, imports);
  };
}

// ---------------------------------------------------------------- worker: one example at a time
export function output(text) {
  if (text) parentPort.postMessage({ t: "out", s: text });
}

// One transcript statement's output, as a JSON string (what repl_driver.py writes per line).
export function statementOutput(json) {
  parentPort.postMessage({ t: "stmt", s: json });
}

export async function work({ load, run, keep = () => true, most = 1 }) {
  for (let done = 0; done < most; done++) {
    const instance = await load();
    parentPort.postMessage({ t: "ready" });
    const job = await new Promise((res) => parentPort.once("message", res));
    let returncode;
    try {
      returncode = run(instance, job);
    } catch (e) {
      // Said on the port its output went to, so that the host has all the output first
      // (a worker's "error" event may overtake the messages sent before it).
      parentPort.postMessage({ t: "crash", s: `${e && e.name}: ${e && e.message}` });
      return; // retired: its runtime may be left in any state
    }
    const reusable = done + 1 < most && keep(instance, job);
    parentPort.postMessage({ t: "done", returncode, reusable });
    if (!reusable) break;
  }
  // Retired: the host terminates this thread and starts another.
}

// ---------------------------------------------------------------- main: the protocol
export async function serve(workerFile, prepare) {
  // stdout carries the protocol only: console output of the runtime goes to stderr.
  for (const name of ["log", "info", "debug"]) console[name] = console.error;
  const packageDir = resolve(process.argv[2] || "");
  const driver = readFileSync(join(HERE, "repl_driver.py"), "utf-8");
  const started = performance.now();
  const workerData = await prepare(packageDir);
  const coldSeconds = (performance.now() - started) / 1000;

  // A worker thread and the promise of its next fresh instance.
  const spawn = () => {
    const worker = new Worker(workerFile, {
      workerData,
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
        } else if (m.t === "crash") {
          finish({ returncode: -11, crashed: `the WebAssembly runtime crashed: ${m.s}` });
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

