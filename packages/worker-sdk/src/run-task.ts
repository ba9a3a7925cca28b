import type { ServerResponse } from 'node:http'
import { sendJson } from './http-io.js'
import type { RingLog } from './logs.js'
import { validateParams } from './params.js'
import type { SlotPool } from './slots.js'
import type { TaskStats } from './stats.js'
import type { TaskRequest } from './task-request.js'
import type { InputOf, ParamRules, TaskContext } from './types.js'
import { deliverWebhook } from './webhook.js'

export interface RunDeps {
  pool: SlotPool
  stats: TaskStats
  logs: RingLog
  patterns: ReadonlyMap<string, RegExp>
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/**
 * Runs an accepted task: wait for a slot (in priority order), validate the input, run, answer.
 * The order matches the engine: params are checked once the task holds its slot, so a task with
 * bad params queues like any other and then answers 500.
 */
export async function runTask(res: ServerResponse, task: TaskRequest, deps: RunDeps): Promise<void> {
  const { pool, stats, logs } = deps
  const controller = new AbortController()
  // `close` before the answer is complete means the client went away.
  const onClose = (): void => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'))
  }
  res.on('close', onClose)
  if (res.destroyed) onClose()

  stats.received++
  try {
    await pool.acquire(task.priority, controller.signal)
  } catch {
    logs.add(`task ${task.name} left the queue: client disconnected`)
    res.off('close', onClose)
    return
  }

  stats.start(task.name, task.input, task.priority)
  logs.add(`task ${task.name} priority ${task.priority} mode ${task.mode}`)
  let streamed = false
  try {
    const input = validateParams(task.fn.params, task.input, deps.patterns)
    const ctx: TaskContext = {
      function: task.name,
      mode: task.mode,
      priority: task.priority,
      signal: controller.signal,
      log: line => logs.add(`task ${task.name}: ${line}`),
      ...(task.mode === 'stream' && {
        write: (chunk: string) => {
          if (res.destroyed || res.writableEnded) return
          // Headers go out with the first chunk, so a function failing before it can still answer 500 JSON.
          if (!streamed) res.writeHead(200, { 'content-type': 'text/plain' })
          streamed = true
          res.write(chunk)
        },
      }),
    }
    const result = await task.fn.run(input as InputOf<ParamRules>, ctx)
    if (task.mode === 'stream') {
      if (!streamed) res.writeHead(200, { 'content-type': 'text/plain' })
      streamed = true
      res.end()
    } else if (task.mode === 'webhook') {
      const outcome = await deliverWebhook(task.webhook!, result)
      if (outcome.ok) sendJson(res, 200, { success: true, message: 'Sent to webhook' })
      else {
        logs.add(`task ${task.name} webhook failed: ${outcome.error}`)
        sendJson(res, 500, { success: false, error: outcome.error })
      }
    } else {
      sendJson(res, 200, { success: true, result })
    }
  } catch (err) {
    const message = controller.signal.aborted ? 'client disconnected' : messageOf(err)
    logs.add(`task ${task.name} failed: ${message}`)
    // Mid-stream there is no status left to set: cut the response so the client sees it incomplete.
    if (streamed) res.destroy()
    else sendJson(res, 500, { success: false, error: messageOf(err) })
  } finally {
    res.off('close', onClose)
    pool.release()
  }
}
