import type { Redis } from 'ioredis'
import type { RedisKeys } from './keys.js'

type Role = Parameters<RedisKeys['heartbeats']>[0]

/** Tells the others this replica is alive, every `intervalMs`; a replica silent for 3 intervals counts as gone. */
export function startHeartbeat(redis: Redis, keys: RedisKeys, role: Role, replicaId: string, intervalMs = 2000): () => Promise<void> {
  const beat = () => redis.zadd(keys.heartbeats(role), Date.now(), replicaId).catch(() => undefined)
  void beat()
  const timer = setInterval(beat, intervalMs)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await redis.zrem(keys.heartbeats(role), replicaId).catch(() => undefined)
  }
}

/** How many replicas of `role` beat within the last `maxAgeMs`; drops the long-dead ones on the way. */
export async function liveReplicas(redis: Redis, keys: RedisKeys, role: Role, maxAgeMs = 6000): Promise<number> {
  const since = Date.now() - maxAgeMs
  const [, count] = (await redis
    .pipeline()
    .zremrangebyscore(keys.heartbeats(role), '-inf', since - 60_000)
    .zcount(keys.heartbeats(role), since, '+inf')
    .exec())!
  return Number(count?.[1] ?? 0)
}
