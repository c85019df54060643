// Host MicroPython's WebAssembly port (the npm package
// @micropython/micropython-webassembly-pyscript) for the build, with the protocol and the
// worker threads of wasm_serve.mjs:
//
//     node micropython_host.mjs PACKAGE_DIR [WORKERS]
//
// The module is compiled once; every example gets a worker thread of its own with a fresh
// instance, made ahead of need (measured on the 2-core build machine: 0.1-0.3 s to start a
// thread, 40 ms for the instance). Instances cannot take turns in one thread: MicroPython's
// JavaScript glue keeps its runtime and its table of proxies in globals of the realm
// (globalThis.Module), and a proxy of a finished instance, collected later, would free
// an object of the next one. So no two examples share a heap or a JavaScript realm.
// A script runs as `micropython example.py` would, in /tmp/example with
// `__name__ == "__main__"`; a transcript compiles each statement on its own in "single"
// mode, which echoes expression values as MicroPython's REPL does.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isMainThread, workerData } from "node:worker_threads";
import { output, serve, shareCompiledModule, statementOutput, work } from "./wasm_serve.mjs";

const HEAP_BYTES = 64 << 20; // MicroPython's own heap is fixed: past it, MemoryError
const WORKDIR = "/tmp/example"; // the names native runs show for their folders (engine.Box)
const HELPERS = "/tmp/example-helpers";

// Compiled as "<pylive>" so that its frames can be left out of tracebacks: an example's
// traceback starts in the example, as it does under `micropython example.py`.
const RUNNER = String.raw`
import io, os, sys

def _report(error):
    text = io.StringIO()
    sys.print_exception(error, text)
    lines = text.getvalue().split("\n")
    sys.stderr.write("\n".join(line for line in lines if 'File "<pylive>"' not in line))

def start(workdir, helpers, first):
    """The working folder, and sys.path with the helper modules where PYTHONPATH puts them."""
    os.chdir(workdir)
    sys.path[:] = [first] + ([helpers] if helpers else []) + [".frozen", "/lib"]

def script(code, path, helpers):
    start(path.rsplit("/", 1)[0], helpers, path.rsplit("/", 1)[0])
    sys.argv[:] = ["example.py"]
    main["__file__"] = path
    try:
        exec(compile(code, path, "exec"), main)
        return 0
    except SystemExit as error:
        status = error.args[0] if error.args else None
    except BaseException as error:
        _report(error)
        return 1
    if status is None:
        return 0
    if isinstance(status, int):
        return status & 0xFF
    sys.stderr.write(str(status) + "\n")
    return 1

def statement(source):
    try:
        exec(compile(source, "<stdin>", "single"), main)
    except BaseException as error:
        _report(error)

def probe():
    import json
    print(json.dumps({
        "version": "%d.%d.%d" % sys.version_info[:3],
        "implementation": "MicroPython",
        "release": ".".join(str(part) for part in sys.implementation.version[:3]),
        "cache_tag": "",
    }))

main["_pylive_runner"] = (start, script, statement, probe)
`;

// A fresh instance, its output going to the host a line (or 4 KB) at a time, so that what
// an example printed before it hung reaches the page; `sink` takes it elsewhere.
async function load(loadMicroPython) {
  const decoder = new TextDecoder("utf-8");
  let pending = [];
  const instance = {
    sink: output,
    flush() {
      if (pending.length) instance.sink(decoder.decode(new Uint8Array(pending), { stream: true }));
      pending = [];
    },
  };
  const write = (bytes) => {
    for (const byte of bytes) {
      pending.push(byte);
      if (byte === 10 || pending.length >= 4096) instance.flush();
    }
  };
  const mp = await loadMicroPython({ heapsize: HEAP_BYTES, stdout: write, stderr: write, stdin: () => null,
                                     linebuffer: false });
  mp.globals.set("_pylive_source", RUNNER);
  mp.runPython("main = globals()\nexec(compile(_pylive_source, '<pylive>', 'exec'), {'main': main})\ndel main");
  [instance.start, instance.script, instance.statement, instance.probe] = mp.globals.get("_pylive_runner");
  for (const name of ["_pylive_source", "_pylive_runner"]) mp.globals.delete(name);
  instance.mp = mp;
  return instance;
}

function run(instance, job) {
  const { mp } = instance;
  const helpers = Object.keys(job.files || {}).length ? HELPERS : "";
  for (const [relative, text] of Object.entries(job.files || {})) {
    const target = join(HELPERS, relative);
    if (!target.startsWith(HELPERS + "/")) throw new Error(`helper file outside its folder: ${relative}`);
    mp.FS.mkdirTree(target.slice(0, target.lastIndexOf("/")));
    mp.FS.writeFile(target, text);
  }
  mp.FS.mkdirTree(WORKDIR);
  if (job.kind === "probe") {
    instance.probe();
  } else if (job.kind === "transcript") {
    instance.start(WORKDIR, helpers, "");
    for (const source of job.statements || []) {
      const written = [];
      instance.sink = (text) => written.push(text);
      instance.statement(source.endsWith("\n") ? source : source + "\n");
      instance.flush();
      statementOutput(JSON.stringify(written.join("")));
    }
  } else {
    mp.FS.writeFile(`${WORKDIR}/example.py`, job.code);
    const status = instance.script(job.code, `${WORKDIR}/example.py`, helpers);
    instance.flush();
    return status;
  }
  instance.flush();
  return 0;
}

async function workerMain() {
  const { packageDir, compiled } = workerData;
  shareCompiledModule(compiled);
  const { loadMicroPython } = await import(pathToFileURL(join(packageDir, "micropython.mjs")).href);
  await work({ load: () => load(loadMicroPython), run, most: 1 });
}

if (isMainThread) {
  await serve(fileURLToPath(import.meta.url), async (packageDir) => ({
    packageDir,
    compiled: await WebAssembly.compile(readFileSync(join(packageDir, "micropython.wasm"))),
  }));
} else {
  await workerMain();
}
