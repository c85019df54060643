// Runs the built site's own search worker (Material's bundled lunr integration) in Node,
// on the built search index: reads {"site": dir, "queries": [...]} on stdin, writes
// {query: [page locations, best first]} as JSON on stdout.
import fs from "node:fs"
import path from "node:path"
import vm from "node:vm"

const input = JSON.parse(fs.readFileSync(0, "utf-8"))
const site = input.site
const workers = path.join(site, "assets", "javascripts", "workers")
const script = fs.readdirSync(workers).find(name => /^search\..*\.min\.js$/.test(name))
if (!script) throw new Error(`no search worker in ${workers}`)

let handler = null
let reply = null
const context = {
  console,
  addEventListener: (type, fn) => { if (type === "message") handler = fn },
  postMessage: message => { reply = message },
  importScripts: () => { throw new Error("importScripts: only English is configured") },
}
context.self = context
context.globalThis = context
vm.createContext(context)
vm.runInContext(fs.readFileSync(path.join(workers, script), "utf-8"), context, { filename: script })
if (!handler) throw new Error("the search worker registered no message handler")

async function send(message) {
  reply = null
  await handler({ data: message })
  return reply
}

const index = JSON.parse(fs.readFileSync(path.join(site, "search", "search_index.json"), "utf-8"))
const ready = await send({ type: 0, data: { config: index.config, docs: index.docs, options: { suggest: false } } })
if (!ready || ready.type !== 1) throw new Error(`the search worker did not get ready: ${JSON.stringify(ready)}`)

const results = {}
for (const query of input.queries) {
  const answer = await send({ type: 2, data: query })
  // One group per page, in the order the search dialog lists them; the page is the
  // location of the group's article (its first item without a #fragment, or the first's path).
  results[query] = answer.data.items.map(group => group[0].location.split("#")[0])
}
process.stdout.write(JSON.stringify(results))
