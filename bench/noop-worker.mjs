// A Worker that does nothing, fast: the floor under every figure of the benchmark. It counts what it
// runs (for the correctness checks) and the gap between a slot freeing and the next task starting on
// it, and reports both to the benchmark over the IPC channel of its fork.
import { createWorker, defineFunction } from '@slotway/worker-sdk'

const slots = Number(process.env.SLOTS ?? 256)
let stats = fresh()
function fresh() {
  return { count: 0, maxUsed: 0, maxQueued: 0, firstStart: 0, lastEnd: 0, seen: new Set(), duplicates: 0, freed: [], gaps: [] }
}

const worker = createWorker({
  group: process.env.GROUP ?? 'bench', contract: 1, slots,
  authKey: process.env.AUTH_KEY, lbAuthKey: process.env.LB_AUTH_KEY,
  functions: {
    noop: defineFunction({
      params: { i: { type: 'number', required: false }, ms: { type: 'number', required: false } },
      async run({ i, ms }) {
        const now = performance.now()
        // A slot freed earlier is what this start fills: the gap is the queue wait.
        if (stats.freed.length > 0) stats.gaps.push(now - stats.freed.shift())
        stats.count++
        const slotsNow = worker.slots()
        stats.maxUsed = Math.max(stats.maxUsed, slotsNow.used)
        stats.maxQueued = Math.max(stats.maxQueued, slotsNow.queue)
        stats.firstStart ||= Date.now()
        if (i !== undefined) {
          if (stats.seen.has(i)) stats.duplicates++
          stats.seen.add(i)
        }
        // One turn of the event loop, so tasks that arrive together overlap and the slot count means something;
        // or `ms`, for a pool whose slots are the limit (the queue-wait phase).
        await new Promise(resolve => (ms ? setTimeout(resolve, ms) : setImmediate(resolve)))
        stats.lastEnd = Date.now()
        if (stats.trackGaps) stats.freed.push(performance.now())
        return { ok: true }
      },
    }),
  },
})

const { port, wsPort } = await worker.listen({ port: Number(process.env.PORT ?? 0), wsPort: Number(process.env.WS_PORT ?? 0) })
process.send?.({ ready: true, port, wsPort })
process.on('message', message => {
  if (message.cmd === 'reset') {
    // The peaks run over the whole benchmark: the correctness check covers every phase.
    stats = { ...fresh(), maxUsed: stats.maxUsed, maxQueued: stats.maxQueued }
    stats.trackGaps = message.trackGaps === true
    process.send({ reset: true })
  }
  if (message.cmd === 'restart-gaps') {
    stats.freed = []
    stats.gaps = []
    process.send({ restarted: true })
  }
  if (message.cmd === 'stats') {
    process.send({ stats: { ...stats, seen: stats.seen.size, freed: undefined, limit: slots } })
  }
})
process.on('SIGTERM', () => worker.close().then(() => process.exit(0)))
