import type { Redis } from 'ioredis'
import type { Logger, RedisKeys, SlotCounts, WorkerState } from '@slotway/shared'

/** The parts of a state whose change others must hear about at once (not slot counts). */
function identity(state: WorkerState): string {
  return JSON.stringify([state.url, state.status, state.reason, state.pool, state.functions, state.services, state.tags, state.slots?.limit, state.websocketPort])
}

const SLOT_FLUSH_MS = 1000
/**
 * Slot counts reach the capacity hash at most this often per discovery. The ledger counts our own
 * tasks exactly; the hash only adds what other clients do on a Worker, so a few ms of lag costs
 * nothing, while writing on every change cost a Redis round trip per task.
 */
const SLOT_WRITE_MS = 5

/**
 * Writes Worker states to Redis. A status change is written and announced at once (and logged
 * once). Slot counts change with every task, so they only update the pool's capacity hash —
 * which the slot ledger reads — and the full state is refreshed at most once a second.
 */
export class StatePublisher {
  private readonly published = new Map<string, { identity: string; pool: string | undefined; busy: number | undefined; said: string }>()
  private readonly dirty = new Map<string, WorkerState>()
  private flushTimer: NodeJS.Timeout | undefined
  /** The last state published per Worker, routable or not (for the slot-count fast path). */
  private readonly current = new Map<string, WorkerState>()
  private readonly pendingSlots = new Map<string, SlotCounts>()
  private slotFlush: NodeJS.Timeout | undefined

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys, private readonly logger: Logger) {}

  /**
   * Only the slot counts of a Worker changed. Messages that arrive together are merged and written
   * in one pipeline: the capacity hash at once, the full state with the next slow flush.
   */
  updateSlots(workerId: string, slots: SlotCounts): void {
    this.pendingSlots.set(workerId, slots)
    this.slotFlush ??= setTimeout(() => this.flushSlots(), SLOT_WRITE_MS)
  }

  private flushSlots(): void {
    this.slotFlush = undefined
    const pipeline = this.redis.pipeline()
    let writes = 0
    for (const [workerId, slots] of this.pendingSlots) {
      const state = this.current.get(workerId)
      const before = this.published.get(workerId)
      if (!state || !before || state.status !== 'ready' || !state.pool) continue
      const next = { ...state, slots }
      this.current.set(workerId, next)
      this.dirty.set(workerId, next)
      const busy = slots.used + slots.queue
      if (busy === before.busy) continue
      pipeline.hset(this.keys.capacity(state.pool), workerId, `${slots.limit} ${busy}`)
      if (before.busy === undefined || busy < before.busy) pipeline.publish(this.keys.capacityChanged, state.pool)
      before.busy = busy
      writes++
    }
    this.pendingSlots.clear()
    if (writes > 0) pipeline.exec().catch(error => this.logger.warn('cannot write Worker slots', { error: String(error) }))
    if (this.dirty.size > 0) this.flushTimer ??= setTimeout(() => this.flush(), SLOT_FLUSH_MS)
  }

  publish(state: WorkerState): void {
    this.current.set(state.id, state)
    const before = this.published.get(state.id)
    const id = identity(state)
    const routable = state.status === 'ready' && state.pool !== undefined && state.slots !== undefined
    const busy = routable ? state.slots!.used + state.slots!.queue : undefined
    const pipeline = this.redis.pipeline()

    if (before?.pool && before.pool !== state.pool) pipeline.hdel(this.keys.capacity(before.pool), state.id)
    if (routable) pipeline.hset(this.keys.capacity(state.pool!), state.id, `${state.slots!.limit} ${busy}`)
    else if (state.pool) pipeline.hdel(this.keys.capacity(state.pool), state.id)

    if (!before || before.identity !== id) {
      pipeline.hset(this.keys.workers, state.id, JSON.stringify(state))
      if (state.pool) pipeline.sadd(this.keys.pools, state.pool)
      pipeline.publish(this.keys.workersChanged, state.id)
      this.dirty.delete(state.id)
    } else {
      this.dirty.set(state.id, state)
      this.flushTimer ??= setTimeout(() => this.flush(), SLOT_FLUSH_MS)
      // Fewer busy slots means room: wake the dispatchers waiting on this pool.
      if (routable && (before.busy === undefined || busy! < before.busy)) pipeline.publish(this.keys.capacityChanged, state.pool!)
    }
    // Logged once per change of status, reason or pool — not on every poll.
    const said = `${state.status}|${state.reason ?? ''}|${state.pool ?? ''}`
    if (!before || before.said !== said) this.logChange(before === undefined, state)
    this.published.set(state.id, { identity: id, pool: state.pool, busy, said })
    pipeline.exec().catch(error => this.logger.warn('cannot write Worker state', { worker: state.url, error: String(error) }))
  }

  private flush(): void {
    this.flushTimer = undefined
    if (this.dirty.size === 0) return
    const pipeline = this.redis.pipeline()
    for (const state of this.dirty.values()) pipeline.hset(this.keys.workers, state.id, JSON.stringify(state))
    this.dirty.clear()
    pipeline.exec().catch(() => undefined)
  }

  private logChange(first: boolean, state: WorkerState): void {
    const detail = { worker: state.url, status: state.status, ...(state.reason ? { reason: state.reason } : {}), ...(state.pool ? { pool: state.pool } : {}) }
    if (first) this.logger.info('Worker added', detail)
    else this.logger.info(`Worker is ${state.status}`, detail)
  }

  /** A Worker left the list: forget it everywhere. */
  async remove(workerId: string, url: string): Promise<void> {
    const before = this.published.get(workerId)
    this.published.delete(workerId)
    this.current.delete(workerId)
    this.dirty.delete(workerId)
    const pipeline = this.redis.pipeline().hdel(this.keys.workers, workerId)
    if (before?.pool) pipeline.hdel(this.keys.capacity(before.pool), workerId)
    pipeline.publish(this.keys.workersChanged, workerId)
    await pipeline.exec()
    this.logger.info('Worker removed', { worker: url })
  }

  /** Drops states left in Redis by an earlier run for Workers no longer listed. */
  async forgetAllBut(keepIds: Set<string>): Promise<void> {
    const stored = await this.redis.hgetall(this.keys.workers)
    for (const [id, json] of Object.entries(stored)) {
      if (keepIds.has(id)) continue
      const state = JSON.parse(json) as WorkerState
      this.published.set(id, { identity: '', pool: state.pool, busy: undefined, said: '' })
      await this.remove(id, state.url)
    }
  }

  stop(): void {
    if (this.slotFlush) {
      clearTimeout(this.slotFlush)
      this.flushSlots()
    }
    clearTimeout(this.flushTimer)
    this.flush()
  }
}
