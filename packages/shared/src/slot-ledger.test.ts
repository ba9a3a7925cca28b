import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisKeys } from './keys.js'
import { SlotLedger } from './slot-ledger.js'

// Against the real Redis: the ledger is only worth anything if the Lua scripts hold under contention.
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const keys = redisKeys(`slotway-test-${randomUUID().slice(0, 8)}`)
const pool = 'default@1'
const connections: Redis[] = []

function connection(): Redis {
  const redis = new Redis(url)
  connections.push(redis)
  return redis
}

async function setCapacity(workerId: string, limit: number, busy: number): Promise<void> {
  await connections[0]!.hset(keys.capacity(pool), workerId, `${limit} ${busy}`)
}

describe('the slot ledger', () => {
  beforeAll(() => {
    connection()
  })
  afterAll(async () => {
    const stale = await connections[0]!.keys(`${keys.prefix}:*`)
    if (stale.length) await connections[0]!.del(...stale)
    for (const redis of connections) redis.disconnect()
  })

  it('never hands out more slots than a Worker has, however many replicas race for them', async () => {
    await setCapacity('w-race', 3, 0)
    const ledgers = Array.from({ length: 5 }, (_, i) => new SlotLedger(connection(), keys, `replica-${i}`, 10_000))
    const attempts = ledgers.flatMap(ledger => Array.from({ length: 10 }, () => ledger.reserveOne(pool, ['w-race'])))
    const granted = (await Promise.all(attempts)).filter(Boolean)
    expect(granted).toHaveLength(3)
  })

  it("respects the Worker's own busy count when it is above ours (tasks sent by others)", async () => {
    const ledger = new SlotLedger(connection(), keys, 'replica', 10_000)
    await setCapacity('w-busy', 3, 3)
    expect(await ledger.reserveOne(pool, ['w-busy'])).toBeUndefined()
    await setCapacity('w-busy', 3, 2)
    expect(await ledger.reserveOne(pool, ['w-busy'])).toBeDefined()
    // The Worker now reports 3 busy, our one among them or not: no room.
    await setCapacity('w-busy', 3, 3)
    expect(await ledger.reserveOne(pool, ['w-busy'])).toBeUndefined()
  })

  it('gives nothing on a Worker that is not in the capacity hash (offline, maintenance)', async () => {
    const ledger = new SlotLedger(connection(), keys, 'replica', 10_000)
    expect(await ledger.reserveOne(pool, ['w-absent'])).toBeUndefined()
  })

  it('picks the Worker with the most room, and the one to avoid only when nothing else has room', async () => {
    await setCapacity('w-a', 4, 3)
    await setCapacity('w-b', 4, 0)
    const ledger = new SlotLedger(connection(), keys, 'replica', 10_000)
    expect((await ledger.reserveOne(pool, ['w-a', 'w-b']))?.workerId).toBe('w-b')
    expect((await ledger.reserveOne(pool, ['w-a', 'w-b'], 'w-b'))?.workerId).toBe('w-a')
    expect((await ledger.reserveOne(pool, ['w-a', 'w-b'], 'w-a'))?.workerId).toBe('w-b')
  })

  it("returns a dead replica's slots when its lease lapses, and a live replica keeps them by renewing", async () => {
    await setCapacity('w-lease', 1, 0)
    // A fake clock, near the real one (Redis expires the ledger key itself by wall time).
    let clock = Date.now()
    const dead = new SlotLedger(connection(), keys, 'dead', 60_000, () => clock)
    const live = new SlotLedger(connection(), keys, 'live', 60_000, () => clock)
    expect(await dead.reserveOne(pool, ['w-lease'])).toBeDefined()
    expect(await live.reserveOne(pool, ['w-lease'])).toBeUndefined()
    clock += 60_001
    expect(await live.reserveOne(pool, ['w-lease'])).toBeDefined()
    clock += 30_000
    await live.renewAll()
    clock += 40_000
    // Past the first lease of the live replica, but inside its renewal.
    expect(await dead.reserveOne(pool, ['w-lease'])).toBeUndefined()
  })

  it('reserves for a task that skips the queue only while nothing waits in the queue', async () => {
    await setCapacity('w-idle', 2, 0)
    const redis = connection()
    const ledger = new SlotLedger(redis, keys, 'replica', 10_000)
    const wait = `${keys.prefix}:test-wait`
    const prioritized = `${keys.prefix}:test-prioritized`
    const delayed = `${keys.prefix}:test-delayed`
    const queue = [wait, prioritized, delayed] as const
    await redis.zadd(prioritized, 1, 'queued-task')
    expect(await ledger.reserve(pool, ['w-idle'], '', 1, [...queue])).toEqual([])
    await redis.del(prioritized)
    await redis.rpush(wait, 'queued-task')
    expect(await ledger.reserve(pool, ['w-idle'], '', 1, [...queue])).toEqual([])
    await redis.del(wait)
    // A task waiting for its retry counts as waiting.
    await redis.zadd(delayed, Date.now() + 60_000, 'retrying-task')
    expect(await ledger.reserve(pool, ['w-idle'], '', 1, [...queue])).toEqual([])
    await redis.del(delayed)
    expect(await ledger.reserve(pool, ['w-idle'], '', 1, [...queue])).toHaveLength(1)
  })

  it('tells a dispatcher when it got no slot while tasks wait (the pool is starved), and only then', async () => {
    await setCapacity('w-starved', 1, 0)
    const redis = connection()
    const holder = new SlotLedger(redis, keys, 'holder', 10_000)
    const dispatcher = new SlotLedger(redis, keys, 'dispatcher', 10_000)
    const queue: [string, string, string] = [`${keys.prefix}:starved-wait`, `${keys.prefix}:starved-prioritized`, `${keys.prefix}:starved-delayed`]
    expect(await holder.reserveOne(pool, ['w-starved'])).toBeDefined()
    expect(await dispatcher.reserveForQueue(pool, ['w-starved'], 1, queue)).toEqual({ reservations: [], starved: false })
    await redis.rpush(queue[0], 'queued-task')
    expect(await dispatcher.reserveForQueue(pool, ['w-starved'], 1, queue)).toEqual({ reservations: [], starved: true })
  })

  it('never shortens a Worker ledger when an owner with a shorter lease reserves', async () => {
    await setCapacity('w-ttl', 2, 0)
    const redis = connection()
    const long = new SlotLedger(redis, keys, 'long', 60_000)
    const short = new SlotLedger(redis, keys, 'short', 1000)
    expect(await long.reserveOne(pool, ['w-ttl'])).toBeDefined()
    expect(await short.reserveOne(pool, ['w-ttl'])).toBeDefined()
    expect(await redis.pttl(keys.slots(pool, 'w-ttl'))).toBeGreaterThan(50_000)
  })

  it('releases exactly once and announces the room once', async () => {
    await setCapacity('w-release', 1, 0)
    const redis = connection()
    const subscriber = connection()
    const announcements: string[] = []
    subscriber.on('message', (_channel, message: string) => announcements.push(message))
    await subscriber.subscribe(keys.capacityChanged)
    const ledger = new SlotLedger(redis, keys, 'replica', 10_000)
    const reservation = (await ledger.reserveOne(pool, ['w-release']))!
    await ledger.release(reservation)
    await ledger.release(reservation)
    // A round trip on the subscriber's connection after the publishes: both would have arrived by now.
    const markerSeen = new Promise<void>(resolve => subscriber.on('message', (_c, m: string) => m === 'marker' && resolve()))
    await redis.publish(keys.capacityChanged, 'marker')
    await markerSeen
    expect(announcements.filter(m => m === pool)).toHaveLength(1)
    expect(await ledger.reserveOne(pool, ['w-release'])).toBeDefined()
  })
})
