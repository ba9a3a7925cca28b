import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { ExpressAdapter } from '@bull-board/express'
import type { Router } from 'express'
import type { Redis } from 'ioredis'
import type { Queue } from 'bullmq'
import { isPoolId, type RedisKeys, type WorkerDirectory } from '@slotway/shared'
import type { TaskQueues } from './task-queues.js'

/** Bull Board at /bull, showing every pool's queue (and webhook deliveries); it follows pools as they appear. */
export function bullBoard(deps: { redis: Redis; keys: RedisKeys; queues: TaskQueues; directory: WorkerDirectory; webhooks: Queue }): Router {
  const serverAdapter = new ExpressAdapter()
  serverAdapter.setBasePath('/bull')
  const board = createBullBoard({ queues: [], serverAdapter, options: { uiConfig: { boardTitle: 'Slotway' } } })
  let shown = ''
  const follow = async () => {
    const pools = new Set([...deps.directory.pools(), ...(await deps.redis.smembers(deps.keys.pools).catch(() => []))])
    const names = [...pools].filter(isPoolId).sort()
    if (names.join() === shown) return
    shown = names.join()
    board.replaceQueues([...names.map(pool => new BullMQAdapter(deps.queues.get(pool))), new BullMQAdapter(deps.webhooks, { readOnlyMode: true })])
  }
  void follow()
  deps.directory.onChange(() => void follow())
  return serverAdapter.getRouter() as Router
}
