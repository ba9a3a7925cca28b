import { randomUUID } from 'node:crypto'
import { Worker as QueueWorker } from 'bullmq'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { redisKeys, type TaskJobData } from '@slotway/shared'
import { ResultWaiter } from './result-waiter.js'
import { TaskQueues } from './task-queues.js'

// Against the real Redis and BullMQ: a result whose message never arrives must still be found.
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const keys = redisKeys(`slotway-test-${randomUUID().slice(0, 8)}`)
const redis = new Redis(url, { maxRetriesPerRequest: null })
const subscriber = new Redis(url, { maxRetriesPerRequest: null })
const queues = new TaskQueues(redis, keys)
const pool = 'default@1'

const data: TaskJobData = {
  group: 'default', function: 'hello', contract: 1, priority: 1, input: {}, mode: 'sync', sealedWorkerAuth: 'x', submittedAt: Date.now(),
}

describe('the result waiter', () => {
  afterAll(async () => {
    await queues.close()
    const stale = await redis.keys(`${keys.prefix}:*`)
    if (stale.length) await redis.del(...stale)
    redis.disconnect()
    subscriber.disconnect()
  })

  it('finds an outcome whose reply message was lost, by re-reading the task', async () => {
    const waiter = new ResultWaiter(subscriber, keys, 'gateway-test', queues, 50)
    await waiter.start()
    const taskId = randomUUID()
    const waiting = waiter.wait(taskId, pool, 10_000).result
    await queues.add(pool, taskId, data, {})
    // A second request waiting on the same task (an Idempotency-Key retry) is answered too.
    const second = waiter.wait(taskId, pool, 10_000, { checkNow: true }).result
    // Complete it the way a dispatcher does, but publish nothing.
    const worker = new QueueWorker(pool, null, { connection: redis, prefix: keys.bullPrefix, autorun: false })
    const job = await worker.getNextJob('token-1')
    expect(job?.id).toBe(taskId)
    await job!.moveToCompleted({ status: 200, body: '{"success":true,"result":1}' }, 'token-1', false)
    await worker.close()
    expect(await waiting).toEqual({ kind: 'outcome', outcome: { status: 200, body: '{"success":true,"result":1}' } })
    expect(await second).toEqual({ kind: 'outcome', outcome: { status: 200, body: '{"success":true,"result":1}' } })
    expect(waiter.pending).toBe(0)
  })

  it('says so when a queued task vanishes from Redis without an outcome', async () => {
    const waiter = new ResultWaiter(subscriber, keys, 'gateway-test-3', queues, 50)
    await waiter.start()
    const handle = waiter.wait(randomUUID(), pool, 10_000)
    handle.queued()
    expect(await handle.result).toEqual({ kind: 'vanished' })
    waiter.stop()
  })

  it('forgets a waiter on timeout and on cancel, so none can leak', async () => {
    const waiter = new ResultWaiter(subscriber, keys, 'gateway-test-2', queues, 1000)
    await waiter.start()
    const timedOut = waiter.wait(randomUUID(), pool, 20).result
    const handle = waiter.wait(randomUUID(), pool, 10_000)
    const cancelled = handle.result
    handle.cancel()
    expect(await timedOut).toEqual({ kind: 'timeout' })
    expect(await cancelled).toEqual({ kind: 'cancelled' })
    expect(waiter.pending).toBe(0)
  })
})
