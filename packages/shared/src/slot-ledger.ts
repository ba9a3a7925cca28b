import { readFileSync } from 'node:fs'
import type { Redis, Result, ClientContext } from 'ioredis'
import type { RedisKeys } from './keys.js'

const script = (name: string) => readFileSync(new URL(`../lua/${name}.lua`, import.meta.url), 'utf8')

/** The keys of a pool queue's waiting tasks: its wait list, its prioritized set, and its delayed set (retries in backoff). */
export type QueueKeys = [waitList: string, prioritized: string, delayed: string]

/** Those keys of a BullMQ queue (or worker) of the pool. */
export function queueKeysOf(queue: { toKey(type: string): string }): QueueKeys {
  return [queue.toKey('wait'), queue.toKey('prioritized'), queue.toKey('delayed')]
}

/** A slot held on one Worker; it must be released exactly once. */
export interface Reservation {
  id: string
  pool: string
  workerId: string
}

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    reserveSlot(numKeys: number, ...args: (string | number)[]): Result<string[], Context>
    renewSlot(key: string, reservationId: string, expiresAt: number, now: number): Result<number, Context>
    releaseSlot(key: string, reservationId: string, channel: string, pool: string): Result<number, Context>
  }
}

/**
 * The slot ledger: which dispatcher holds which slot of which Worker, in Redis, with leases.
 * Every change is one Lua script, so replicas never race each other.
 */
export class SlotLedger {
  private sequence = 0
  private readonly held = new Map<string, Reservation>()

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly ownerId: string,
    private readonly leaseMs: number,
    private readonly now: () => number = Date.now,
  ) {
    // Several owners (a gateway's and a dispatcher's ledger) may share one connection: define once.
    if ((redis as unknown as { reserveSlot?: unknown }).reserveSlot) return
    redis.defineCommand('reserveSlot', { lua: script('reserve-slot') })
    redis.defineCommand('renewSlot', { numberOfKeys: 1, lua: script('renew-slot') })
    redis.defineCommand('releaseSlot', { numberOfKeys: 1, lua: script('release-slot') })
  }

  /**
   * Takes up to `count` free slots on `workerIds` (each on the Worker with the most room, any but
   * `avoidWorkerId` first) in one round trip; returns those it got. With `onlyIfIdle` (the keys of
   * the pool queue's waiting tasks), nothing is reserved while a task waits there.
   */
  async reserve(pool: string, workerIds: string[], avoidWorkerId = '', count = 1, onlyIfIdle?: QueueKeys): Promise<Reservation[]> {
    return (await this.#reserve(pool, workerIds, avoidWorkerId, count, onlyIfIdle ? { keys: onlyIfIdle, mode: '1' } : undefined)).reservations
  }

  /**
   * For a dispatcher about to take tasks from the pool's queue: like `reserve`, and also says when
   * it got nothing while tasks wait there (the pool is starved: whoever holds idle slots should
   * give them back).
   */
  async reserveForQueue(pool: string, workerIds: string[], count: number, queue: QueueKeys): Promise<{ reservations: Reservation[]; starved: boolean }> {
    return this.#reserve(pool, workerIds, '', count, { keys: queue, mode: '2' })
  }

  async #reserve(pool: string, workerIds: string[], avoidWorkerId: string, count: number, queue?: { keys: QueueKeys; mode: '1' | '2' }): Promise<{ reservations: Reservation[]; starved: boolean }> {
    if (workerIds.length === 0) return { reservations: [], starved: false }
    const prefix = `${this.ownerId}:${++this.sequence}`
    const now = this.now()
    const ledgers = workerIds.map(workerId => this.keys.slots(pool, workerId))
    const guards = queue?.keys ?? []
    const chosen = await this.redis.reserveSlot(
      1 + workerIds.length + guards.length,
      this.keys.capacity(pool),
      ...ledgers,
      ...guards,
      now,
      now + this.leaseMs,
      prefix,
      avoidWorkerId,
      count,
      queue?.mode ?? '0',
      ...workerIds,
    )
    if (chosen.length === 1 && chosen[0] === '') return { reservations: [], starved: true }
    const reservations = chosen.map((workerId, index) => {
      const reservation = { id: `${prefix}:${index + 1}`, pool, workerId }
      this.held.set(reservation.id, reservation)
      return reservation
    })
    return { reservations, starved: false }
  }

  /** One slot, or undefined. */
  async reserveOne(pool: string, workerIds: string[], avoidWorkerId = ''): Promise<Reservation | undefined> {
    return (await this.reserve(pool, workerIds, avoidWorkerId, 1))[0]
  }

  async release(reservation: Reservation): Promise<void> {
    if (!this.held.delete(reservation.id)) return
    await this.redis.releaseSlot(
      this.keys.slots(reservation.pool, reservation.workerId),
      reservation.id,
      this.keys.capacityChanged,
      reservation.pool,
    )
  }

  /** Extends every lease this process holds; called on a timer well inside the lease. */
  async renewAll(): Promise<void> {
    if (this.held.size === 0) return
    const now = this.now()
    const pipeline = this.redis.pipeline()
    for (const r of this.held.values()) pipeline.renewSlot(this.keys.slots(r.pool, r.workerId), r.id, now + this.leaseMs, now)
    await pipeline.exec()
  }

}
