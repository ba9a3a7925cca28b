import type { Redis } from 'ioredis'
import type { RedisKeys } from '@slotway/shared'

/**
 * Wakes a pool's idle fetch loop when that pool may have room: a slot was released, a Worker
 * reported fewer busy slots, or a Worker joined. A version number per pool closes the gap
 * between "reserve failed" and "start waiting", and a timer covers messages pub/sub lost.
 */
export class CapacitySignal {
  private readonly versions = new Map<string, number>()
  private readonly waiters = new Map<string, Set<() => void>>()

  constructor(private readonly subscriber: Redis, private readonly keys: RedisKeys) {}

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.keys.capacityChanged) this.notify(message)
      // Any Worker change may add room anywhere: wake everyone.
      else if (channel === this.keys.workersChanged) for (const pool of this.waiters.keys()) this.notify(pool)
    })
    await this.subscriber.subscribe(this.keys.capacityChanged, this.keys.workersChanged)
  }

  version(pool: string): number {
    return this.versions.get(pool) ?? 0
  }

  notify(pool: string): void {
    this.versions.set(pool, this.version(pool) + 1)
    const waiting = this.waiters.get(pool)
    if (!waiting) return
    this.waiters.delete(pool)
    for (const wake of waiting) wake()
  }

  /** Resolves on the pool's next notification after `seenVersion`, or after `timeoutMs`. */
  wait(pool: string, seenVersion: number, timeoutMs: number): Promise<void> {
    if (this.version(pool) !== seenVersion) return Promise.resolve()
    return new Promise(resolve => {
      const waiting = this.waiters.get(pool) ?? new Set()
      this.waiters.set(pool, waiting)
      const wake = () => {
        clearTimeout(timer)
        waiting.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, timeoutMs)
      waiting.add(wake)
    })
  }

  /** Wakes every waiter, e.g. to let loops see that the process is stopping. */
  wakeAll(): void {
    for (const pool of [...this.waiters.keys()]) this.notify(pool)
  }
}
