import { Queue, type JobsOptions } from 'bullmq'
import type { Redis } from 'ioredis'
import type { RedisKeys, TaskJobData } from '@slotway/shared'

/** One BullMQ queue per pool, created on first use and shared by every request of this process. */
export class TaskQueues {
  private readonly queues = new Map<string, Queue<TaskJobData>>()
  /** When each pool was last written to the pool set (re-written now and then: Redis may have lost it). */
  private readonly recorded = new Map<string, number>()

  constructor(private readonly connection: Redis, private readonly keys: RedisKeys) {}

  get(pool: string): Queue<TaskJobData> {
    let queue = this.queues.get(pool)
    if (!queue) {
      // BullMQ's event stream is not used by Slotway (results travel on reply channels): keep it short.
      queue = new Queue<TaskJobData>(pool, { connection: this.connection, prefix: this.keys.bullPrefix, streams: { events: { maxLen: 1000 } } })
      queue.on('error', () => undefined)
      this.queues.set(pool, queue)
    }
    return queue
  }

  async add(pool: string, taskId: string, data: TaskJobData, options: JobsOptions): Promise<void> {
    // Now and then per pool and process: the pool set lets a task be found by its id alone.
    const stale = (this.recorded.get(pool) ?? 0) < Date.now() - 10_000
    const record = stale ? this.connection.sadd(this.keys.pools, pool).then(() => this.recorded.set(pool, Date.now())) : undefined
    await Promise.all([this.get(pool).add(data.function, data, { ...options, jobId: taskId }), record])
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map(queue => queue.close()))
  }
}
