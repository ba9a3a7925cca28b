import { Queue, type JobsOptions } from 'bullmq'
import type { Redis } from 'ioredis'
import type { TaskJobData } from '@slotway/shared'

/** One BullMQ queue per pool, created on first use and shared by every request of this process. */
export class TaskQueues {
  private readonly queues = new Map<string, Queue<TaskJobData>>()

  constructor(private readonly connection: Redis, private readonly bullPrefix: string) {}

  get(pool: string): Queue<TaskJobData> {
    let queue = this.queues.get(pool)
    if (!queue) {
      queue = new Queue<TaskJobData>(pool, { connection: this.connection, prefix: this.bullPrefix })
      queue.on('error', () => undefined)
      this.queues.set(pool, queue)
    }
    return queue
  }

  async add(pool: string, taskId: string, data: TaskJobData, options: JobsOptions): Promise<void> {
    await this.get(pool).add(data.function, data, { ...options, jobId: taskId })
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map(queue => queue.close()))
  }
}
