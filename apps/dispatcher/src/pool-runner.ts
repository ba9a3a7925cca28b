import { randomUUID } from 'node:crypto'
import { UnrecoverableError, Worker as QueueWorker, type Job } from 'bullmq'
import type { Redis } from 'ioredis'
import { encodeFailure, queueKeysOf, type Logger, type QueueKeys, type RedisKeys, type Reservation, type SlotLedger, type TaskJobData, type WorkerDirectory } from '@slotway/shared'
import type { CapacitySignal } from './capacity-signal.js'
import type { Handover, TaskRunner } from './task-runner.js'

export interface PoolRunnerDeps {
  connection: Redis
  keys: RedisKeys
  bullPrefix: string
  ledger: SlotLedger
  directory: WorkerDirectory
  signal: CapacitySignal
  runner: TaskRunner
  lockDurationMs: number
  capacityRecheckMs: number
  logger: Logger
}

/** Most slots one fetch round reserves, and tasks it takes, at once. */
const MAX_BATCH = 32
/** How often a starved pool asks gateways for their idle slots, at most. */
const SLOTS_WANTED_EVERY_MS = 20

/** BullMQ's worker, with the one protected step we need: turning a next job handed back by Redis into a Job. */
class PoolQueueWorker extends QueueWorker<TaskJobData> {
  jobFromHandover(next: unknown[], token: string): Promise<Job<TaskJobData> | undefined> {
    return this.nextJobFromJobData(next[0] as Parameters<QueueWorker['nextJobFromJobData']>[0], next[1] as string, token) as Promise<Job<TaskJobData> | undefined>
  }
}

interface ActiveTask {
  job: Job<TaskJobData>
  token: string
  done: Promise<void>
}

/**
 * Feeds one pool's queue to its Workers. The order matters: first a slot is reserved, and only
 * then is a task taken from the queue. A task therefore never sits "active" in a dispatcher
 * waiting for room, and the task that gets a free slot is always the best one waiting at that
 * moment, whichever replica holds the slot.
 */
export class PoolRunner {
  private readonly queueWorker: PoolQueueWorker
  /** Where the pool's waiting tasks are, for the ledger's starved check. */
  private readonly queueKeys: QueueKeys
  private readonly active = new Map<string, ActiveTask>()
  private stopping = false
  private loop: Promise<void> | undefined
  private askedForSlotsAt = 0

  constructor(readonly pool: string, private readonly deps: PoolRunnerDeps) {
    this.queueWorker = new PoolQueueWorker(pool, null, {
      connection: deps.connection,
      prefix: deps.bullPrefix,
      autorun: false,
      lockDuration: deps.lockDurationMs,
      // A replica killed mid-task loses its lock; another replica's checker puts the task back.
      stalledInterval: Math.max(1000, Math.floor(deps.lockDurationMs / 2)),
      maxStalledCount: 3,
      drainDelay: 2,
    })
    this.queueKeys = queueKeysOf(this.queueWorker)
    this.queueWorker.on('error', error => deps.logger.warn('queue worker error', { pool, error: String(error) }))
  }

  start(): void {
    void this.queueWorker.startStalledCheckTimer()
    this.loop = this.fetchLoop()
  }

  private async fetchLoop(): Promise<void> {
    const { ledger, directory, signal, logger } = this.deps
    // Grows while every slot reserved finds a task (a backlog), back to 1 when the queue runs dry.
    let batch = 1
    while (!this.stopping) {
      const seen = signal.version(this.pool)
      const candidates = directory.readyInPool(this.pool).map(worker => worker.id)
      let reservations: Reservation[] = []
      try {
        const reserved = await ledger.reserveForQueue(this.pool, candidates, batch, this.queueKeys)
        reservations = reserved.reservations
        if (reserved.starved) this.askForSlots()
      } catch (error) {
        logger.warn('slot reservation failed', { pool: this.pool, error: String(error) })
      }
      if (reservations.length === 0) {
        await signal.wait(this.pool, seen, this.deps.capacityRecheckMs)
        continue
      }
      // The first fetch may wait for a task to arrive; the others only take what is queued already.
      const fetched = await Promise.all(reservations.map((_, i) => this.fetch(i === 0)))
      let taken = 0
      for (let i = 0; i < reservations.length; i++) {
        const job = fetched[i]
        const reservation = reservations[i]!
        if (!job) {
          void ledger.release(reservation).catch(() => undefined)
          continue
        }
        taken++
        void this.dispatch(job.job, job.token, reservation)
      }
      if (fetched.some(f => f === null)) await new Promise(resolve => setTimeout(resolve, 500))
      batch = taken === reservations.length ? Math.min(MAX_BATCH, batch * 2) : Math.max(1, taken)
    }
  }

  /** Tasks wait and every slot is taken: some may be idle in a gateway's hands (see the gateway's DirectSlots). */
  private askForSlots(): void {
    const now = Date.now()
    if (now - this.askedForSlotsAt < SLOTS_WANTED_EVERY_MS) return
    this.askedForSlotsAt = now
    void this.deps.connection.publish(this.deps.keys.slotsWanted, this.pool).catch(() => undefined)
  }

  /** One task from the queue, or undefined when there is none (null when the queue could not be read). */
  private async fetch(block: boolean): Promise<{ job: Job<TaskJobData>; token: string } | undefined | null> {
    const token = randomUUID()
    try {
      const job = await this.queueWorker.getNextJob(token, { block })
      return job?.id ? { job, token } : undefined
    } catch (error) {
      this.deps.logger.warn('taking a task from the queue failed', { pool: this.pool, error: String(error) })
      return null
    }
  }

  private async dispatch(job: Job<TaskJobData>, token: string, reservation: Reservation): Promise<void> {
    const routed = await this.route(job, reservation).catch(() => reservation)
    if (!routed) {
      // The slot's Worker went away while we waited for a task, and no other has room: put it back.
      await job.moveToWait(token).catch(error => this.deps.logger.warn('cannot return a task to the queue', { taskId: job.id, error: String(error) }))
      return
    }
    this.track(job, token, routed)
  }

  /**
   * The slot was reserved before the task arrived. Keep it if its Worker is still ready and the
   * task did not just fail there; otherwise look for room elsewhere in the pool.
   */
  private async route(job: Job<TaskJobData>, reservation: Reservation): Promise<Reservation | undefined> {
    const { ledger, directory } = this.deps
    const stillReady = directory.get(reservation.workerId)?.status === 'ready'
    const failedHere = job.data.lastWorkerId === reservation.workerId
    if (stillReady && !failedHere) return reservation
    const candidates = directory.readyInPool(this.pool).map(worker => worker.id)
    const other = await ledger.reserveOne(this.pool, candidates, reservation.workerId).catch(() => undefined)
    if (other && other.workerId !== reservation.workerId) {
      await ledger.release(reservation)
      return other
    }
    if (other) await ledger.release(other)
    if (stillReady) return reservation
    await ledger.release(reservation)
    return undefined
  }

  private track(job: Job<TaskJobData>, token: string, reservation: Reservation): void {
    const id = job.id!
    const done = this.deps.runner
      .run(job, token, reservation, () => !this.stopping)
      .then(handover => handover && this.takeOver(handover, token))
      .catch(async (error: unknown) => {
        this.deps.logger.error('task run failed', { pool: this.pool, taskId: id, error: String(error) })
        // Never leave a task active with nobody working on it: an error of ours is final for it.
        await job
          .moveToFailed(new UnrecoverableError(encodeFailure({ status: 500, body: JSON.stringify({ success: false, error: `Slotway could not run the task: ${String(error)}`, taskId: id }) })), token, false)
          .catch(() => undefined)
      })
      .finally(() => this.active.delete(id))
    this.active.set(id, { job, token, done })
  }

  /** The task just completed handed its slot to the next one waiting, which BullMQ has given us already. */
  private async takeOver({ next, reservation }: Handover, token: string): Promise<void> {
    let job: Job<TaskJobData> | undefined
    try {
      job = await this.queueWorker.jobFromHandover(next, token)
    } catch (error) {
      this.deps.logger.warn('taking over the next task failed', { pool: this.pool, error: String(error) })
    }
    if (!job?.id) return void this.deps.ledger.release(reservation).catch(() => undefined)
    // Awaited: the next task is among the active ones before this one counts as done.
    await this.dispatch(job, token, reservation)
  }

  /** Keeps BullMQ's locks on running tasks, so no other replica thinks they stalled. */
  async extendLocks(): Promise<void> {
    await Promise.all(
      [...this.active.values()].map(({ job, token }) =>
        job.extendLock(token, this.deps.lockDurationMs).catch(error =>
          this.deps.logger.warn('lock extension failed', { taskId: job.id, error: String(error) }),
        ),
      ),
    )
  }

  get activeCount(): number {
    return this.active.size
  }

  /** Stops taking tasks, waits for the running ones (up to `drainMs`), then closes. */
  async stop(drainMs: number): Promise<void> {
    this.stopping = true
    this.deps.signal.wakeAll()
    await this.loop
    // Until none is left: a task finishing just now may have handed its slot to one more.
    const drained = (async () => {
      while (this.active.size > 0) await Promise.all([...this.active.values()].map(task => task.done))
    })()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([drained, new Promise(resolve => (timer = setTimeout(resolve, drainMs)))])
    clearTimeout(timer)
    await this.queueWorker.close(true)
  }
}
