import type { Redis } from 'ioredis'
import type { RedisKeys } from './keys.js'

// Task counters and latency histograms live in one Redis hash, so whichever gateway is scraped
// reports the whole installation. Fields: `<metric>|<pool>` and `<histogram>|<pool>|<bucket>`.
// Each process adds up its own figures in memory and writes them once per FLUSH_MS, so counting
// costs a task nothing in Redis round trips.

/** Histogram bucket upper bounds, in seconds. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

export type TaskCounter = 'submitted' | 'completed' | 'failed' | 'retried'
export type TaskHistogram = 'queue_wait' | 'run_time'

const FLUSH_MS = 250

export class TaskMetrics {
  private readonly pending = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {}

  count(counter: TaskCounter, pool: string): void {
    this.add(`${counter}|${pool}`, 1)
  }

  /** Adds one observation to a histogram: one bucket (cumulated when read), the sum and the count. */
  observe(histogram: TaskHistogram, pool: string, seconds: number): void {
    const bucket = LATENCY_BUCKETS.find(bound => seconds <= bound) ?? Infinity
    this.add(`${histogram}|${pool}|${bucket}`, 1)
    this.add(`${histogram}_sum|${pool}`, seconds)
  }

  private add(field: string, value: number): void {
    this.pending.set(field, (this.pending.get(field) ?? 0) + value)
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS)
  }

  /** Writes what was counted since the last flush (also on shutdown). */
  async flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.pending.size === 0) return
    const pipeline = this.redis.pipeline()
    for (const [field, value] of this.pending) {
      if (Number.isInteger(value)) pipeline.hincrby(this.keys.metrics, field, value)
      else pipeline.hincrbyfloat(this.keys.metrics, field, value)
    }
    this.pending.clear()
    await pipeline.exec().catch(() => undefined)
  }

  async read(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.metrics)
  }
}
