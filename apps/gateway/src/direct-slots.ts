import type { Redis } from 'ioredis'
import { queueKeysOf, type Logger, type QueueKeys, type RedisKeys, type Reservation, type SlotLedger, type WorkerDirectory } from '@slotway/shared'
import type { TaskQueues } from './task-queues.js'
import { withTimeout } from './with-timeout.js'

interface Held {
  reservation: Reservation
  reservedAt: number
}

interface PoolStock {
  /** Reserved in the ledger, not in use: the next direct task of the pool takes one without asking Redis. */
  idle: Held[]
  /** Tasks wait in the pool's queue (or may): hold nothing idle, and ask the ledger, whose guard knows. */
  backlog: boolean
  /** Counts backlog signals, so a reservation that was in flight during one does not clear it. */
  signals: number
  /** Where the pool's waiting tasks are, for the ledger's guard. */
  queueKeys: QueueKeys
}

/**
 * The slots a gateway holds for its direct path. A slot used by a direct task is not given back
 * to the ledger at once but kept for the next one, so a steady stream of sync tasks costs no Redis
 * round trip at all; the ledger still counts every held slot, so no Worker is oversubscribed.
 *
 * Holding must never delay the queue. Whenever tasks may wait in a pool — a gateway just queued
 * one, or a dispatcher found the pool starved; either says so on `slotsWanted` — every gateway
 * gives the pool's idle slots back at once, and its direct tasks ask the ledger again, whose guard
 * refuses while anything waits (or waits for a retry). Nothing is held longer than `holdMs`
 * (DIRECT_SLOT_HOLD), so a changed Worker limit, or a task that began to wait without anyone saying
 * so (a stalled task put back), is seen within it. A slot whose call did not end with an answer is
 * never held: the Worker may still be running it.
 */
export class DirectSlots {
  private readonly pools = new Map<string, PoolStock>()
  private readonly heldSince = new Map<string, number>()
  private readonly trimmer: NodeJS.Timeout | undefined
  /** Pools this gateway queued a task in during the current tick: `slotsWanted` is sent once per tick for them. */
  private readonly wanted = new Set<string>()
  private stopped = false
  /** Slots taken and not given back yet (their calls are running). */
  private inUse = 0
  private readonly releasing = new Set<Promise<unknown>>()
  private onIdle: (() => void) | undefined

  constructor(
    private readonly deps: {
      ledger: SlotLedger
      directory: WorkerDirectory
      queues: TaskQueues
      redis: Redis
      subscriber: Redis
      keys: RedisKeys
      logger: Logger
      holdMs: number
    },
  ) {
    // With holding off (0), nothing is ever idle: no trimming either.
    if (deps.holdMs > 0) this.trimmer = setInterval(() => this.trim(), Math.max(10, deps.holdMs / 2)).unref()
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
      if (this.usable(held, now)) {
        this.inUse++
        return held.reservation
      }
      this.release(held.reservation)
    }
    const candidates = this.deps.directory.readyInPool(pool).map(worker => worker.id)
    if (candidates.length === 0) return undefined
    const signalsBefore = stock.signals
    const reserving = this.deps.ledger.reserve(pool, candidates, '', 1, stock.queueKeys)
    let reservation: Reservation | undefined
    try {
      ;[reservation] = await withTimeout(reserving, waitMs)
    } catch (error) {
      void reserving.then(late => late.forEach(r => this.release(r))).catch(() => undefined)
      throw error
    }
    if (!reservation) return undefined
    // The guard found the queue empty: holding is safe again — unless a backlog was signalled meanwhile.
    if (stock.signals === signalsBefore) stock.backlog = false
    this.heldSince.set(reservation.id, Date.now())
    this.inUse++
    return reservation
  }

  /**
   * Takes back a slot a direct task is done with: kept for the next one, or given back to the ledger.
   * `answered` says the Worker answered the call; after a call cut short (the client left, a timeout)
   * the Worker may still be running it, and only the ledger's reading of its busy count can tell.
   */
  give(reservation: Reservation, answered: boolean): void {
    this.inUse--
    if (this.inUse === 0) this.onIdle?.()
    const stock = this.stock(reservation.pool)
    const held = { reservation, reservedAt: this.heldSince.get(reservation.id) ?? 0 }
    if (!answered || this.stopped || stock.backlog || !this.usable(held, Date.now())) return this.release(reservation)
    stock.idle.push(held)
  }

  /**
   * This gateway put a task in the pool's queue: it and every other gateway give back the pool's
   * idle slots, for the dispatchers (which wait for released slots, not for new tasks).
   */
  queued(pool: string): void {
    this.backlogIn(pool)
    // Every time, never skipped: a gateway that held its slots again a moment ago must hear of this task too.
    if (this.wanted.size === 0) setImmediate(() => this.sayWanted())
    this.wanted.add(pool)
  }

  private sayWanted(): void {
    for (const pool of this.wanted) void this.deps.redis.publish(this.deps.keys.slotsWanted, pool).catch(() => undefined)
    this.wanted.clear()
  }

  /** Tasks may wait in the pool: give its idle slots back now, and hold none until the queue is empty. */
  backlogIn(pool: string): void {
    const stock = this.stock(pool)
    stock.backlog = true
    stock.signals++
    for (const held of stock.idle.splice(0)) this.release(held.reservation)
  }

  /** Gives back every idle slot, and from now on every slot as soon as its task is done (on shutdown). */
  stop(): void {
    this.stopped = true
    clearInterval(this.trimmer)
    for (const stock of this.pools.values()) for (const held of stock.idle.splice(0)) this.release(held.reservation)
  }

  /** After stop(): waits (up to `timeoutMs`) for running calls to give their slots back, and for the releases to reach Redis. */
  async settle(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<void>(resolve => (timer = setTimeout(resolve, timeoutMs)))
    const idle = this.inUse === 0 ? Promise.resolve() : new Promise<void>(resolve => (this.onIdle = resolve))
    await Promise.race([idle.then(() => Promise.allSettled([...this.releasing])), deadline])
    clearTimeout(timer)
  }

  private usable(held: Held, now: number): boolean {
    return now - held.reservedAt < this.deps.holdMs && this.deps.directory.get(held.reservation.workerId)?.status === 'ready'
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
    const releasing = this.deps.ledger.release(reservation).catch(error => this.deps.logger.warn('slot release failed', { error: String(error) }))
    this.releasing.add(releasing)
    void releasing.finally(() => this.releasing.delete(releasing))
  }

  private stock(pool: string): PoolStock {
    let stock = this.pools.get(pool)
    if (!stock) this.pools.set(pool, (stock = { idle: [], backlog: false, signals: 0, queueKeys: queueKeysOf(this.deps.queues.get(pool)) }))
    return stock
  }
}
