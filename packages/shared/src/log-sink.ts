import Transport from 'winston-transport'
import type { Redis } from 'ioredis'

/** One line of GET /logs. */
export interface LogLine {
  time: string
  level: string
  service: string
  replica: string
  message: string
  [field: string]: unknown
}

const FLUSH_MS = 200

/**
 * A winston transport that keeps the last `maxLines` lines of every service in one capped Redis
 * list, so any gateway can answer GET /logs for all of them. Lines are batched and written off the
 * request path; if Redis is away they are dropped, never retried into memory without bound.
 */
export class RedisLogSink extends Transport {
  private buffer: string[] = []
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly redis: Redis, private readonly key: string, private readonly maxLines: number) {
    super()
  }

  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    if (this.maxLines > 0) {
      const { level, message, timestamp, service, replica, ...rest } = info
      const line = {
        time: typeof timestamp === 'string' && timestamp.includes('T') ? timestamp : new Date().toISOString(),
        level: String(info[Symbol.for('level')] ?? level),
        service: String(service ?? ''),
        replica: String(replica ?? ''),
        message: String(message),
        ...Object.fromEntries(Object.entries(rest).filter(([k]) => typeof k === 'string')),
      }
      this.buffer.push(JSON.stringify(line))
      if (this.buffer.length > this.maxLines) this.buffer.splice(0, this.buffer.length - this.maxLines)
      this.timer ??= setTimeout(() => this.flush(), FLUSH_MS)
    }
    next()
  }

  flush(): Promise<unknown> {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.buffer.length === 0 || this.redis.status !== 'ready') {
      this.buffer = []
      return Promise.resolve()
    }
    const lines = this.buffer
    this.buffer = []
    return this.redis
      .pipeline()
      .rpush(this.key, ...lines)
      .ltrim(this.key, -this.maxLines, -1)
      .exec()
      .catch(() => undefined)
  }
}
