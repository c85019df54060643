// Run it yourself: every example and transcript of a page, editable and runnable on
// CPython 3.14 in the reader's browser, and the bytecode playground (tools/bytecode-playground).
//
// The build marks each example it ran (pylive/plugin.py): a <div class="pylive-live"> around
// it, whose data-pylive-* attributes hold the exact code that ran (for a transcript, its
// typed lines), what it needs that the browser lacks, how its output is shown and its
// timeout. This script adds Edit, Run and Reset under it. Nothing is downloaded until the
// first Run: then assets/live/runtimes.json says where the site's own copy of each runtime
// is (pylive/browser.py copies them from the pinned npm packages), and worker.js starts it
// in a worker thread. Later runs, on this page or another, restore it in a fraction of a second.
//
// No framework and no bundler: Material's `document$` announces each page, also after an
// instant navigation, and the controls are plain buttons, a textarea and text.

const LIVE = new URL(".", import.meta.url); // assets/live/
const DEFAULT_TIMEOUT = 10; // seconds, as in the build
const EXAMPLES_RUNTIME = "3.14"; // the CPython that runs the pages' examples: the newest release

// -- the runtimes ----------------------------------------------------------------------

let manifest = null; // promise of runtimes.json, with the helper modules' text
const runtimes = new Map(); // "3.14" -> Runtime

function siteRuntimes() {
  manifest ??= (async () => {
    const response = await fetch(new URL("runtimes.json", LIVE));
    if (!response.ok) throw new Error(`runtimes.json (HTTP ${response.status})`);
    const found = await response.json();
    // The helper modules examples import (snippets/helpers), written beside every run.
    const texts = await Promise.all(found.helpers.map(async (name) => {
      const helper = await fetch(new URL(`helpers/${name}`, LIVE));
      if (!helper.ok) throw new Error(`helpers/${name} (HTTP ${helper.status})`);
      return [name, await helper.text()];
    }));
    return { ...found, files: Object.fromEntries(texts) };
  })();
  manifest.catch(() => { manifest = null; }); // a failed fetch is tried again on the next Run
  return manifest;
}

// One runtime (one minor version): a worker per run, one run at a time. The first worker
// downloads and starts the runtime and hands back what it made (`made`: the compiled module,
// a memory snapshot, the standard library); each later worker restores a fresh interpreter
// from that in a fraction of a second, and the next one is prepared as soon as a run ends.
class Runtime {
  constructor(minor, folder) {
    this.minor = minor;
    this.folder = folder;
    this.made = null;
    this.spare = null; // promise of the worker for the next run
    this.queue = Promise.resolve();
  }

  get started() {
    return this.made !== null;
  }

  // A worker whose interpreter waits for a run.
  prepare() {
    const worker = new Worker(new URL("worker.js", LIVE), { type: "module" });
    const ready = new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => {
        if (data.t === "started") this.made = data;
        else if (data.t === "ready") resolve(worker);
        else reject(new Error(data.message));
      };
      worker.onerror = (event) => reject(new Error(event.message || "the runtime did not start"));
    });
    ready.catch(() => worker.terminate());
    worker.postMessage(this.made ? { ...this.made, t: "prepare" } : { t: "start", runtime: this.folder, live: LIVE.href });
    return ready;
  }

  // Run `job` ({kind, code | statements, files}); `onStart` is told when it starts running.
  // Resolves to the worker's answer ({t: "done", ...}), {t: "timeout"} or {t: "failed", message}.
  run(job, timeout, onStart) {
    const answer = this.queue.then(() => this.send(job, timeout, onStart));
    this.queue = answer.catch(() => {});
    return answer;
  }

  async send(job, timeout, onStart) {
    let worker;
    try {
      worker = await (this.spare ?? this.prepare());
    } catch (error) {
      this.spare = null;
      return { t: "failed", message: error.message };
    }
    const answer = await new Promise((resolve) => {
      let timer = null;
      const finish = (result) => {
        clearTimeout(timer);
        resolve(result);
      };
      worker.onmessage = ({ data }) => {
        if (data.t !== "running") return finish(data);
        onStart();
        timer = setTimeout(() => finish({ t: "timeout" }), timeout * 1000);
      };
      worker.onerror = (event) => finish({ t: "failed", message: event.message || "the runtime stopped" });
      worker.postMessage({ ...job, t: "run" });
    });
    worker.terminate(); // everything the run used goes with it
    this.spare = this.prepare();
    this.spare.catch(() => { this.spare = null; }); // the next run tries again
    return { ...answer, version: this.made.version };
  }
}

async function runtime(minor) {
  const site = await siteRuntimes();
  if (!(minor in site.runtimes)) throw new Error(`CPython ${minor} is not part of this copy of the site`);
  if (!runtimes.has(minor)) runtimes.set(minor, new Runtime(minor, new URL(site.runtimes[minor], new URL("runtimes.json", LIVE)).href));
  return { runtime: runtimes.get(minor), files: site.files, megabytes: site.megabytes[minor] };
}

// -- what the build does to an output, done the same way here (pylive/wasm.py, engine.py) --

// The runner's random folder names, shown as the stand-ins the build shows (wasm.stand_ins).
const STAND_INS = [[/\/tmp\/pylive-helpers-\w+/g, "/tmp/example-helpers"], [/\/tmp\/pylive-(?!driver)\w+/g, "/tmp/example"]];
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]/g;

// Control characters made visible, as engine.visible does; then the stand-ins.
function asBuilt(text) {
  let shown = text.replace(/\r\n/g, "\n").replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    if (code === 0x7f) return "\u2421";
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    return `<U+${code.toString(16).toUpperCase().padStart(4, "0")}>`;
  });
  for (const [pattern, name] of STAND_INS) shown = shown.replace(pattern, name);
  return shown;
}

// A transcript's statements, as doctest's parser (engine.parse_transcript) finds them: a
// `>>>` line, then its `...` lines; any other line is an output, which is not typed.
function statements(text) {
  const found = [];
  let current = null;
  for (const line of text.split("\n")) {
    const first = /^ *>>>(?: (.*))?$/.exec(line);
    const more = /^ *\.\.\.(?: (.*))?$/.exec(line);
    if (first) found.push((current = [first[1] ?? ""]));
    else if (more && current) current.push(more[1] ?? "");
    else current = null;
  }
  return found.map((lines) => lines.join("\n") + "\n");
}

// A statement as a person types it, as engine.Statement.typed shows it: `>>> ` then `... `,
// and a compound statement closed by an empty `...` line.
function typed(source) {
  const lines = source.replace(/\n+$/, "").split("\n");
  const compound = lines.length > 1 && lines.at(-1).trim() && lines.slice(1).some((line) => /^\s/.test(line));
  return lines.map((line, i) => (i ? "... " : ">>> ") + line).join("\n") + (compound ? "\n..." : "");
}

// -- the page's examples -------------------------------------------------------------------

function element(tag, attributes = {}, text = "") {
  const made = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  if (text) made.textContent = text;
  return made;
}

function button(text, label) {
  return element("button", { type: "button", class: "pylive-button", "aria-label": label }, text);
}

// A code block in Material's markup, titled (the build's outputs look the same).
function codeBlock(language, title, text) {
  const block = element("div", { class: `language-${language} highlight pylive-yours` });
  const pre = element("pre");
  pre.append(element("code", {}, text));
  block.append(element("span", { class: "filename" }, title), pre);
  return block;
}

// An output="html" example's own drawing (an SVG), without what could run as script.
function drawing(html, title) {
  const parsed = new DOMParser().parseFromString(html, "text/html");
  for (const bad of parsed.querySelectorAll("script, iframe, object, embed, foreignObject, link, meta, base, form")) {
    bad.remove();
  }
  for (const node of parsed.body.querySelectorAll("*")) {
    for (const name of node.getAttributeNames()) {
      const value = node.getAttribute(name);
      if (/^on/i.test(name) || (/href|src|action/i.test(name) && !value.startsWith("#"))) node.removeAttribute(name);
    }
  }
  const block = element("div", { class: "pylive-yours pylive-drawing" });
  block.append(...parsed.body.childNodes, element("small", { class: "pylive-stamp" }, title));
  return block;
}

// What a block's data-pylive-lacks names (its needs=, and "packages" for versions="build").
const NEEDS = { threads: "threads", subprocess: "child processes", sockets: "sockets", timing: "meaningful timings",
  native: "a native build of Python", packages: "packages beyond the standard library" };

function addControls(block) {
  const kind = block.dataset.pyliveKind;
  const original = block.dataset.pyliveSource;
  const lacks = block.dataset.pyliveLacks;
  if (lacks) {
    const names = lacks.split(",").map((need) => NEEDS[need] || need);
    block.append(element("p", { class: "pylive-cannot" },
      `Not runnable in your browser: this example needs ${names.join(" and ")}, which CPython on WebAssembly does not have.`));
    return;
  }
  const controls = element("div", { class: "pylive-controls" });
  const edit = button("Edit", kind === "pycon" ? "Edit this transcript" : "Edit the code of this example");
  const run = button("Run", kind === "pycon" ? "Run this transcript in your browser" : "Run this example in your browser");
  const reset = button("Reset", "Reset this example");
  const status = element("span", { class: "pylive-status", role: "status" });
  reset.hidden = true;
  controls.append(edit, run, reset, status);
  block.append(controls);
  // A program is edited where its source is shown; a transcript under the build's output.
  const shown = kind === "python" ? block.querySelector(".language-python.highlight") : null;
  let editor = null;
  let yours = null;

  edit.addEventListener("click", () => {
    const lines = original.split("\n").length;
    editor = element("textarea", {
      class: "pylive-editor", rows: String(Math.min(Math.max(lines + 1, 3), 30)), spellcheck: "false",
      autocapitalize: "off", autocomplete: "off", wrap: "off",
      "aria-label": kind === "pycon" ? "Transcript to run: each statement starts with >>> and continues with ..." :
        "Code of this example (Ctrl+Enter runs it)",
    });
    editor.value = original;
    editor.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        run.click();
      }
    });
    if (shown) {
      shown.hidden = true;
      shown.after(editor);
    } else {
      controls.before(editor);
    }
    edit.hidden = true;
    reset.hidden = false;
    editor.focus();
  });

  run.addEventListener("click", async () => {
    if (run.getAttribute("aria-disabled") === "true") return;
    run.setAttribute("aria-disabled", "true"); // not `disabled`: the focus stays on it
    reset.hidden = false;
    const code = editor ? editor.value : original;
    const job = kind === "pycon" ? { kind: "transcript", statements: statements(code) } : { kind: "script", code };
    try {
      const { runtime: python, files, megabytes } = await runtime(EXAMPLES_RUNTIME);
      status.textContent = python.started ? "Running…" :
        `Starting CPython ${EXAMPLES_RUNTIME} in your browser (about ${megabytes} MB, downloaded once)…`;
      const timeout = Math.max(Number(block.dataset.pyliveTimeout) || DEFAULT_TIMEOUT, DEFAULT_TIMEOUT);
      const started = { at: 0 };
      const answer = await python.run({ ...job, files }, timeout, () => {
        started.at = performance.now();
        status.textContent = "Running…";
      });
      if (answer.t === "timeout") {
        status.textContent = `Stopped: it did not finish within ${timeout} s (the next Run starts a fresh CPython).`;
        return;
      }
      if (answer.t !== "done") throw new Error(answer.message);
      const title = `your run · CPython ${answer.version} in your browser`;
      let result;
      if (kind === "pycon") {
        const text = job.statements.map((source, i) => typed(source) + "\n" + asBuilt(answer.outputs[i] ?? "")).join("");
        result = codeBlock("pycon", title, text.replace(/\n+$/, "") || "(no statement: type one after >>> )");
      } else if (block.dataset.pyliveOutput === "html" && answer.returncode === 0) {
        result = drawing(answer.output, title);
      } else {
        result = codeBlock("text", title, asBuilt(answer.output).replace(/\n+$/, "") || "(no output)");
      }
      if (yours) yours.replaceWith(result);
      else controls.after(result);
      yours = result;
      status.textContent = `Ran in ${((performance.now() - started.at) / 1000).toFixed(2)} s: your output is below.`;
    } catch (error) {
      status.textContent = `Could not run: ${error.message}`;
    } finally {
      run.removeAttribute("aria-disabled");
    }
  });

  reset.addEventListener("click", () => {
    if (editor) editor.remove();
    if (yours) yours.remove();
    if (shown) shown.hidden = false;
    editor = yours = null;
    status.textContent = "";
    edit.hidden = false;
    reset.hidden = true;
    edit.focus();
  });
}

// -- the bytecode playground -------------------------------------------------------------

const PLAYGROUND_START = "def average(numbers):\n    return sum(numbers) / len(numbers)\n";

// The program each runtime runs: the listing of the reader's code, or why it does not compile.
function disassembly(code) {
  return [
    "import dis",
    `source = ${JSON.stringify(code)}`,
    "try:",
    "    compiled = compile(source, '<playground>', 'exec')",
    "except SyntaxError as error:",
    "    import traceback",
    "    print(''.join(traceback.format_exception_only(error)), end='')",
    "else:",
    "    dis.dis(compiled)",
  ].join("\n");
}

function codeInAddress() {
  const found = /^#code=(.*)$/s.exec(location.hash);
  try {
    return found ? decodeURIComponent(found[1]) : null;
  } catch {
    return null; // a link cut short
  }
}

function addPlayground(playground) {
  playground.replaceChildren();
  const editor = element("textarea", {
    id: "pylive-playground-code", class: "pylive-editor", rows: "10", spellcheck: "false", autocapitalize: "off",
    autocomplete: "off", wrap: "off",
  });
  editor.value = codeInAddress() ?? PLAYGROUND_START;
  const label = element("label", { for: editor.id }, "Your code (Ctrl+Enter shows its bytecode)");
  const controls = element("div", { class: "pylive-controls" });
  const show = button("Show bytecode", "Show bytecode: disassemble your code on each version");
  const link = element("a", { class: "pylive-link" }, "Link to this code");
  const status = element("span", { class: "pylive-status", role: "status" });
  const listings = element("div", { class: "pylive-listings" });
  controls.append(show, link, status);
  playground.append(label, editor, controls, listings);
  const address = () => `${location.pathname}#code=${encodeURIComponent(editor.value)}`;
  link.href = address();
  editor.addEventListener("input", () => { link.href = address(); });
  editor.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      show.click();
    }
  });

  show.addEventListener("click", async () => {
    if (show.getAttribute("aria-disabled") === "true") return;
    show.setAttribute("aria-disabled", "true");
    history.replaceState(history.state, "", address()); // the address bar carries the code too
    try {
      const site = await siteRuntimes();
      const minors = Object.keys(site.runtimes);
      const megabytes = minors.reduce((total, minor) => total + site.megabytes[minor], 0);
      status.textContent = minors.every((minor) => runtimes.get(minor)?.started) ? "Disassembling…" :
        `Starting CPython ${minors.join(" and ")} in your browser (about ${megabytes} MB, downloaded once)…`;
      const answers = await Promise.all(minors.map(async (minor) => {
        const { runtime: python } = await runtime(minor);
        return [minor, await python.run({ kind: "script", code: disassembly(editor.value) }, DEFAULT_TIMEOUT, () => {})];
      }));
      listings.replaceChildren(...answers.map(([minor, answer]) => {
        if (answer.t === "done") {
          return codeBlock("text", `dis · CPython ${answer.version} in your browser`,
            asBuilt(answer.output).replace(/\n+$/, "") || "(no bytecode)");
        }
        const why = answer.t === "timeout" ? `it did not finish within ${DEFAULT_TIMEOUT} s` : answer.message;
        return codeBlock("text", `dis · CPython ${minor} in your browser`, `Could not disassemble: ${why}`);
      }));
      status.textContent = "Done: the two listings are below.";
    } catch (error) {
      status.textContent = `Could not run: ${error.message}`;
    } finally {
      show.removeAttribute("aria-disabled");
    }
  });
}

// -- every page, also after an instant navigation ------------------------------------------

function enhance() {
  for (const block of document.querySelectorAll(".pylive-live:not([data-pylive-ready])")) {
    block.dataset.pyliveReady = "";
    addControls(block);
  }
  for (const playground of document.querySelectorAll(".pylive-playground:not([data-pylive-ready])")) {
    playground.dataset.pyliveReady = "";
    addPlayground(playground);
  }
}

if (window.document$) window.document$.subscribe(enhance);
else enhance();
