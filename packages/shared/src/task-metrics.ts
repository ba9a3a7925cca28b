import type { ChainableCommander, Redis } from 'ioredis'
import type { RedisKeys } from './keys.js'

// Task counters and latency histograms live in one Redis hash, so whichever gateway is scraped
// reports the whole installation. Fields: `<metric>|<pool>` and `<histogram>|<pool>|<bucket>`.

/** Histogram bucket upper bounds, in seconds. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

export type TaskCounter = 'submitted' | 'completed' | 'failed' | 'retried'
export type TaskHistogram = 'queue_wait' | 'run_time'

export class TaskMetrics {
  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {}

  count(counter: TaskCounter, pool: string, into?: ChainableCommander): void {
    if (into) into.hincrby(this.keys.metrics, `${counter}|${pool}`, 1)
    else this.redis.hincrby(this.keys.metrics, `${counter}|${pool}`, 1).catch(() => undefined)
  }

  /** Adds one observation to a histogram: one bucket (cumulated when read), the sum and the count. */
  observe(histogram: TaskHistogram, pool: string, seconds: number, into?: ChainableCommander): void {
    const target = into ?? this.redis.pipeline()
    const bucket = LATENCY_BUCKETS.find(bound => seconds <= bound) ?? Infinity
    target.hincrby(this.keys.metrics, `${histogram}|${pool}|${bucket}`, 1)
    target.hincrbyfloat(this.keys.metrics, `${histogram}_sum|${pool}`, seconds)
    if (!into) void (target as ChainableCommander).exec().catch(() => undefined)
  }

  async read(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.metrics)
  }
}
