// The only place that spells a Redis key or channel. Every other file asks this module.
// Keys of one pool share a {hash tag}, so a Redis Cluster keeps them on one slot and a
// Lua script may touch all of them at once.

/** A pool is every Worker of one group and contract; tasks queue per pool. */
export interface PoolRef {
  group: string
  contract: number
}

/** `default@1`: readable, and safe as a BullMQ queue name (BullMQ forbids ':'). */
export function poolId(pool: PoolRef): string {
  return `${pool.group}@${pool.contract}`
}

/** A pool id Slotway itself could have made (anything else in Redis is ignored, never turned into a queue). */
export function isPoolId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}@-?\d+(\.\d+)?$/.test(id)
}

export type RedisKeys = ReturnType<typeof redisKeys>

export function redisKeys(prefix: string) {
  return {
    prefix,
    /** BullMQ's own prefix; its queues are named by poolId(). */
    bullPrefix: `${prefix}:bull`,
    /** Hash: workerId → WorkerState JSON, written by discovery only. */
    workers: `${prefix}:workers`,
    /** Channel: a Worker's state changed (message: workerId). */
    workersChanged: `${prefix}:workers:changed`,
    /** Hash per pool: workerId → "limit used" for Workers that may take tasks now. */
    capacity: (pool: string) => `${prefix}:{${pool}}:capacity`,
    /** Sorted set per Worker: reservationId scored by its lease expiry (ms). */
    slots: (pool: string, workerId: string) => `${prefix}:{${pool}}:slots:${workerId}`,
    /** Channel: capacity may have appeared in a pool (message: poolId). */
    capacityChanged: `${prefix}:capacity:changed`,
    /** Channel: tasks wait in a pool whose slots are all taken (message: poolId); gateways give back the idle slots they hold. */
    slotsWanted: `${prefix}:slots:wanted`,
    /** Channel per gateway replica: the results of the sync tasks it waits for. */
    replies: (gatewayId: string) => `${prefix}:replies:${gatewayId}`,
    /** String: the discovery replica that owns polling (value: its id, with an expiry). */
    discoveryLeader: `${prefix}:discovery:leader`,
    /** Set: every pool ever seen, so a task can be found by its id alone. */
    pools: `${prefix}:pools`,
    /** Channel: a client gave up on a running task (message: taskId); its dispatcher aborts the Worker call. */
    cancels: `${prefix}:cancels`,
    /** String: the task an Idempotency-Key was first used for. */
    idempotency: (key: string) => `${prefix}:idempotency:${key}`,
    /** String: a task cancelled before it started (BullMQ forgets removed jobs, we remember why). */
    cancelled: (taskId: string) => `${prefix}:cancelled:${taskId}`,
    /** Sorted set per role: replica id scored by its last heartbeat (ms). */
    heartbeats: (role: 'discovery' | 'dispatcher' | 'gateway') => `${prefix}:heartbeats:${role}`,
    /** List: the last log lines of every service (JSON), newest last, capped. */
    logs: `${prefix}:logs`,
    /** Hash: workerId → URL of the Workers added through the API (workers.json lists the others). */
    registry: `${prefix}:registry`,
    /** Channel: the API registry changed. */
    registryChanged: `${prefix}:registry:changed`,
    /** Hash: task counters and latency histograms per pool, for /metrics. */
    metrics: `${prefix}:metrics`,
    /** String per client address: failed authentications in the current window. */
    authFailures: (address: string) => `${prefix}:auth-failures:${address}`,
  }
}
