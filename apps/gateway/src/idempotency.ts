import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { RedisKeys } from '@slotway/shared'

/**
 * `Idempotency-Key`: the first submission with a key claims it for its task id; a retry with the
 * same key gets that task back instead of running a second one.
 */
export class IdempotencyKeys {
  constructor(private readonly redis: Redis, private readonly keys: RedisKeys, private readonly ttlSeconds: number) {}

  /** Returns undefined when `taskId` now owns the key, or the id of the task that already did. */
  async claim(key: string, taskId: string): Promise<string | undefined> {
    const redisKey = this.keys.idempotency(createHash('sha256').update(key).digest('hex'))
    const previous = await this.redis.set(redisKey, taskId, 'EX', this.ttlSeconds, 'NX', 'GET')
    return previous ?? undefined
  }

  /** Frees a key whose task could not be queued, so the client's retry is not mistaken for a duplicate. */
  async release(key: string, taskId: string): Promise<void> {
    const redisKey = this.keys.idempotency(createHash('sha256').update(key).digest('hex'))
    if ((await this.redis.get(redisKey)) === taskId) await this.redis.del(redisKey)
  }
}
