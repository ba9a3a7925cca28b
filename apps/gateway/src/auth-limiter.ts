import type { Redis } from 'ioredis'
import type { RedisKeys } from '@slotway/shared'

/**
 * Slows key guessing: failed authentications are counted per client address in Redis (shared by
 * every gateway), and an address over the limit is refused — right key or not — until its window
 * ends. Only failures touch Redis; a blocked address is also remembered here, so it costs nothing.
 */
export class AuthLimiter {
  private readonly blocked = new Map<string, number>()

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys, private readonly limit: number, private readonly windowSeconds: number) {}

  /** Seconds the address must wait, or 0 when it may try. */
  retryAfter(address: string): number {
    const until = this.blocked.get(address)
    if (until === undefined) return 0
    const left = Math.ceil((until - Date.now()) / 1000)
    if (left > 0) return left
    this.blocked.delete(address)
    return 0
  }

  /** Whether any address is being refused right now (expired blocks are dropped on the way). */
  anyBlocked(): boolean {
    if (this.blocked.size === 0) return false
    const now = Date.now()
    for (const [address, until] of this.blocked) if (until <= now) this.blocked.delete(address)
    return this.blocked.size > 0
  }

  /** Records a failure; returns the seconds to wait when the address is now over the limit. */
  async fail(address: string): Promise<number> {
    const key = this.keys.authFailures(address)
    try {
      const [[, count], [, ttl]] = (await this.redis.pipeline().incr(key).expire(key, this.windowSeconds, 'NX').ttl(key).exec()) as [[null, number], [null, number], [null, number]]
      if (count <= this.limit) return 0
      const wait = ttl > 0 ? ttl : this.windowSeconds
      if (this.blocked.size > 10_000) this.blocked.clear()
      this.blocked.set(address, Date.now() + wait * 1000)
      return wait
    } catch {
      return 0
    }
  }
}
