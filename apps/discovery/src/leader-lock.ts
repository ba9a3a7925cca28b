import type { Redis } from 'ioredis'

// Only one discovery replica polls Workers; the others wait to take over. The lock is a key
// holding the owner's id with an expiry that the owner keeps renewing.

// Take the lock if it is free, or keep it if it is already ours (also after a renewal was lost in a Redis hiccup).
const ACQUIRE = `
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if owner then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

export class LeaderLock {
  private timer: NodeJS.Timeout | undefined
  private leading = false

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly ownerId: string,
    private readonly ttlMs: number,
    private readonly onChange: (leading: boolean) => void,
  ) {}

  start(): void {
    void this.tick()
    this.timer = setInterval(() => void this.tick(), Math.max(100, Math.floor(this.ttlMs / 3)))
  }

  private async tick(): Promise<void> {
    let leading: boolean
    try {
      leading = (await this.redis.eval(ACQUIRE, 1, this.key, this.ownerId, this.ttlMs)) === 1
    } catch {
      leading = false
    }
    if (leading !== this.leading) {
      this.leading = leading
      this.onChange(leading)
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    if (this.leading) await this.redis.eval(RELEASE, 1, this.key, this.ownerId).catch(() => undefined)
    this.leading = false
  }
}
