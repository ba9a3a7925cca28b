import type { Redis } from 'ioredis'
import { decodeFailure, decodeReply, type RedisKeys, type TaskOutcome, type TaskReply } from '@slotway/shared'
import type { TaskQueues } from './task-queues.js'

export type StreamFrame = Extract<TaskReply, { kind: 'stream-head' | 'stream-chunk' }>

export type WaitResult =
  | { kind: 'outcome'; outcome: TaskOutcome }
  | { kind: 'streamed'; error?: string }
  | { kind: 'timeout' }
  | { kind: 'cancelled' }
  /** The task is gone from Redis without an outcome (cancelled by someone, or lost). */
  | { kind: 'vanished' }
  /** This gateway is stopping; the task itself goes on. */
  | { kind: 'shutdown' }

export interface WaitHandle {
  result: Promise<WaitResult>
  /** Stops this one wait (the client left); other requests waiting on the same task go on. */
  cancel(): void
  /** The task is in the queue now: from here on, a task missing from Redis means it vanished. */
  queued(): void
}

interface Waiter {
  taskId: string
  pool: string
  settle: (result: WaitResult) => void
  onStream: ((frame: StreamFrame) => void) | undefined
  streaming: boolean
  queued: boolean
  deadline: NodeJS.Timeout
  checkedAt: number
}

/**
 * Requests wait here for their task's outcome (or its stream). Dispatchers publish on this
 * gateway's own channel (the task carries our id), so no gateway reads another's results.
 * Pub/sub can drop a message (e.g. during a reconnect), so every waiter's task is also re-read
 * from Redis every `recheckMs`, by one timer for all. Several requests may wait on one task (an
 * Idempotency-Key retry); every waiter is removed on every path.
 */
export class ResultWaiter {
  private readonly waiters = new Map<string, Set<Waiter>>()
  private sweeper: NodeJS.Timeout | undefined

  constructor(
    private readonly subscriber: Redis,
    private readonly keys: RedisKeys,
    readonly gatewayId: string,
    private readonly queues: TaskQueues,
    private readonly recheckMs: number,
  ) {}

  async start(): Promise<void> {
    const channel = this.keys.replies(this.gatewayId)
    this.subscriber.on('message', (from: string, message: string) => {
      if (from !== channel) return
      const reply = decodeReply(message)
      if (reply) this.deliver(reply)
    })
    await this.subscriber.subscribe(channel)
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.floor(this.recheckMs / 4)))
    this.sweeper.unref()
  }

  /**
   * Register before the task is queued, so that even an instant outcome finds its waiter.
   * With `onStream`, stream frames go there and the deadline stops once the stream has begun.
   * `checkNow` re-reads the stored state at once (for a task that may already be finished).
   */
  wait(taskId: string, pool: string, timeoutMs: number, options: { onStream?: (frame: StreamFrame) => void; checkNow?: boolean } = {}): WaitHandle {
    let waiter!: Waiter
    const result = new Promise<WaitResult>(resolve => {
      waiter = {
        taskId,
        pool,
        settle: resolve,
        onStream: options.onStream,
        streaming: false,
        queued: options.checkNow === true,
        deadline: setTimeout(() => this.settleOne(waiter, { kind: 'timeout' }), timeoutMs),
        checkedAt: Date.now(),
      }
    })
    const set = this.waiters.get(taskId) ?? new Set()
    set.add(waiter)
    this.waiters.set(taskId, set)
    if (options.checkNow) void this.recheck(taskId)
    return {
      result,
      cancel: () => this.settleOne(waiter, { kind: 'cancelled' }),
      queued: () => {
        waiter.queued = true
      },
    }
  }

  /** Whether any request still waits on `taskId`. */
  isAwaited(taskId: string): boolean {
    return this.waiters.has(taskId)
  }

  get pending(): number {
    let count = 0
    for (const set of this.waiters.values()) count += set.size
    return count
  }

  private deliver(reply: TaskReply): void {
    const set = this.waiters.get(reply.taskId)
    if (!set) return
    for (const waiter of [...set]) {
      switch (reply.kind) {
        case 'result':
          if (!waiter.streaming) this.settleOne(waiter, { kind: 'outcome', outcome: reply })
          break
        case 'stored':
          void this.recheck(reply.taskId)
          break
        case 'stream-head':
          waiter.streaming = true
          clearTimeout(waiter.deadline)
          waiter.onStream?.(reply)
          break
        case 'stream-chunk':
          waiter.onStream?.(reply)
          break
        case 'stream-end':
          this.settleOne(waiter, reply.error ? { kind: 'streamed', error: reply.error } : { kind: 'streamed' })
          break
      }
    }
  }

  private settleOne(waiter: Waiter, result: WaitResult): void {
    const set = this.waiters.get(waiter.taskId)
    if (!set?.delete(waiter)) return
    if (set.size === 0) this.waiters.delete(waiter.taskId)
    clearTimeout(waiter.deadline)
    waiter.settle(result)
  }

  private settleAll(taskId: string, result: (waiter: Waiter) => WaitResult): void {
    for (const waiter of [...(this.waiters.get(taskId) ?? [])]) this.settleOne(waiter, result(waiter))
  }

  /** Re-reads the tasks whose waiters have not heard anything for `recheckMs`. */
  private sweep(): void {
    const due = Date.now() - this.recheckMs
    for (const [taskId, set] of this.waiters) {
      const first = set.values().next().value
      if (first && first.checkedAt <= due) void this.recheck(taskId)
    }
  }

  private async recheck(taskId: string): Promise<void> {
    const set = this.waiters.get(taskId)
    const first = set?.values().next().value
    if (!set || !first) return
    for (const waiter of set) waiter.checkedAt = Date.now()
    try {
      const job = await this.queues.get(first.pool).getJob(taskId)
      if (!job) {
        // Only a task known to have been queued can have vanished; the others are still on their way in.
        for (const waiter of [...set]) if (waiter.queued) this.settleOne(waiter, { kind: 'vanished' })
        return
      }
      if (!job.finishedOn) return
      const outcome = job.returnvalue ? (job.returnvalue as TaskOutcome) : job.failedReason ? decodeFailure(job.failedReason) : undefined
      if (!outcome) return
      this.settleAll(taskId, waiter => (waiter.streaming ? { kind: 'streamed' } : { kind: 'outcome', outcome }))
    } catch {
      // Redis away; the next sweep tries again, the deadline still holds.
    }
  }

  /** Ends every wait (on shutdown) so no request is left hanging. */
  stop(): void {
    clearInterval(this.sweeper)
    for (const taskId of [...this.waiters.keys()]) this.settleAll(taskId, () => ({ kind: 'shutdown' }))
  }
}
