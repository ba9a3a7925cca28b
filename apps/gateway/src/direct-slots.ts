import type { Redis } from 'ioredis'
import type { Logger, QueueKeys, RedisKeys, Reservation, SlotLedger, WorkerDirectory } from '@slotway/shared'
import type { TaskQueues } from './task-queues.js'
import { withTimeout } from './with-timeout.js'

/** A slot held longer than this is given back, so a changed Worker limit or a missed signal is seen within it. */
const MAX_HOLD_MS = 1000
/** How often this gateway tells the others that a pool's queue has tasks, at most. */
const SLOTS_WANTED_EVERY_MS = 20

interface Held {
  reservation: Reservation
  reservedAt: number
}

interface PoolStock {
  /** Reserved in the ledger, not in use: the next direct task of the pool takes one without asking Redis. */
  idle: Held[]
  /** Tasks wait in the pool's queue (or may): hold nothing idle, and ask the ledger, whose guard knows. */
  backlog: boolean
}

/**
 * The slots a gateway holds for its direct path. A slot used by a direct task is not given back
 * to the ledger at once but kept for the next one, so a steady stream of sync tasks costs no Redis
 * round trip at all; the ledger still counts every held slot, so no Worker is oversubscribed.
 *
 * Holding must never delay the queue. Whenever tasks may wait in a pool — a gateway just queued
 * one, or a dispatcher found the pool starved; either says so on `slotsWanted` — every gateway
 * gives the pool's idle slots back at once, and its direct tasks ask the ledger again, whose guard
 * refuses while anything waits. Nothing is held longer than MAX_HOLD_MS.
 */
export class DirectSlots {
  private readonly pools = new Map<string, PoolStock>()
  private readonly heldSince = new Map<string, number>()
  private readonly trimmer: NodeJS.Timeout
  private readonly askedAt = new Map<string, number>()

  constructor(
    private readonly deps: {
      ledger: SlotLedger
      directory: WorkerDirectory
      queues: TaskQueues
      redis: Redis
      subscriber: Redis
      keys: RedisKeys
      logger: Logger
    },
  ) {
    this.trimmer = setInterval(() => this.trim(), MAX_HOLD_MS / 2)
    this.trimmer.unref()
  }

  async start(): Promise<void> {
    const { subscriber, keys } = this.deps
    subscriber.on('message', (channel: string, pool: string) => {
      if (channel === keys.slotsWanted) this.backlogIn(pool)
    })
    await subscriber.subscribe(keys.slotsWanted)
  }

  /**
   * A free slot of the pool for a task that skips the queue, or undefined when it has to queue.
   * `waitMs` bounds the wait for Redis; a reservation landing after it is given back.
   */
  async take(pool: string, waitMs: number): Promise<Reservation | undefined> {
    const stock = this.stock(pool)
    const now = Date.now()
    while (!stock.backlog && stock.idle.length > 0) {
      const held = stock.idle.pop()!
      if (this.usable(held, now)) return held.reservation
      this.release(held.reservation)
    }
    const candidates = this.deps.directory.readyInPool(pool).map(worker => worker.id)
    if (candidates.length === 0) return undefined
    const reserving = this.deps.ledger.reserve(pool, candidates, '', 1, this.queueKeys(pool))
    let reservation: Reservation | undefined
    try {
      ;[reservation] = await withTimeout(reserving, waitMs)
    } catch (error) {
      void reserving.then(late => late.forEach(r => this.release(r))).catch(() => undefined)
      throw error
    }
    if (!reservation) return undefined
    // The guard found the queue empty: holding is safe again.
    stock.backlog = false
    this.heldSince.set(reservation.id, Date.now())
    return reservation
  }

  /** Takes back a slot a direct task is done with: kept for the next one, or given back to the ledger. */
  give(reservation: Reservation): void {
    const stock = this.stock(reservation.pool)
    const held = { reservation, reservedAt: this.heldSince.get(reservation.id) ?? 0 }
    if (stock.backlog || !this.usable(held, Date.now())) return this.release(reservation)
    stock.idle.push(held)
  }

  /**
   * This gateway put a task in the pool's queue: it and every other gateway give back the pool's
   * idle slots, for the dispatchers (which wait for released slots, not for new tasks).
   */
  queued(pool: string): void {
    this.backlogIn(pool)
    const now = Date.now()
    if (now - (this.askedAt.get(pool) ?? 0) < SLOTS_WANTED_EVERY_MS) return
    this.askedAt.set(pool, now)
    void this.deps.redis.publish(this.deps.keys.slotsWanted, pool).catch(() => undefined)
  }

  /** Tasks may wait in the pool: give its idle slots back now, and hold none until the queue is empty. */
  backlogIn(pool: string): void {
    const stock = this.stock(pool)
    stock.backlog = true
    for (const held of stock.idle.splice(0)) this.release(held.reservation)
  }

  /** Gives back every idle slot (on shutdown). */
  stop(): void {
    clearInterval(this.trimmer)
    for (const stock of this.pools.values()) for (const held of stock.idle.splice(0)) this.release(held.reservation)
  }

  private usable(held: Held, now: number): boolean {
    return now - held.reservedAt < MAX_HOLD_MS && this.deps.directory.get(held.reservation.workerId)?.status === 'ready'
  }

  private trim(): void {
    const now = Date.now()
    for (const stock of this.pools.values()) {
      const keep = stock.idle.filter(held => this.usable(held, now))
      for (const held of stock.idle) if (!keep.includes(held)) this.release(held.reservation)
      stock.idle = keep
    }
  }

  private release(reservation: Reservation): void {
    this.heldSince.delete(reservation.id)
    void this.deps.ledger.release(reservation).catch(error => this.deps.logger.warn('slot release failed', { error: String(error) }))
  }

  private stock(pool: string): PoolStock {
    let stock = this.pools.get(pool)
    if (!stock) this.pools.set(pool, (stock = { idle: [], backlog: false }))
    return stock
  }

  private queueKeys(pool: string): QueueKeys {
    const queue = this.deps.queues.get(pool)
    return [queue.toKey('wait'), queue.toKey('prioritized')]
  }
}
