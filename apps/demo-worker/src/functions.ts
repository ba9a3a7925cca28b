import { setTimeout as sleepFor } from 'node:timers/promises'
import { defineFunction, type WorkerFunction } from '@slotway/worker-sdk'

// The demo function set. Its params are written exactly like the reference Worker's, key order
// included, so a demo Worker and a reference Worker of one group+contract publish the same functions.

const hello = defineFunction({
  params: { name: { type: 'string', required: false, default: 'World' } },
  streams: true,
  async run({ name }, ctx) {
    const message = `Hello ${name}!`
    if (ctx.write) {
      ctx.write(message)
      return undefined
    }
    return { message }
  },
})

const sleep = defineFunction({
  params: { ms: { type: 'number', required: true, min: 0, max: 600000 }, tag: { type: 'string', required: false } },
  async run({ ms, tag }, ctx) {
    // Abortable, so a task whose client left frees its slot instead of sleeping on.
    await sleepFor(ms, undefined, { signal: ctx.signal })
    return { slept: ms, tag: tag ?? null }
  },
})

const echo = defineFunction({
  params: { value: { type: 'object', required: false } },
  async run({ value }) {
    return { value: value ?? null }
  },
})

const fail = defineFunction({
  params: { message: { type: 'string', required: false, default: 'failed on purpose' } },
  async run({ message }) {
    throw new Error(message)
  },
})

/** `extra` adds one no-param function (tests use it to give a Worker a different function set). */
export function demoFunctions(extra?: string): Record<string, WorkerFunction> {
  const functions: Record<string, WorkerFunction> = { hello, sleep, echo, fail }
  // Like the reference Worker, an extra name equal to a built-in replaces it (in place).
  if (extra !== undefined) functions[extra] = defineFunction({ params: {}, run: async () => ({ extra: true }) })
  return functions
}
