import { Queue, type Worker as QueueWorker } from 'bullmq'
import type { Redis } from 'ioredis'
import { SlotLedger, TaskMetrics, WEBHOOK_QUEUE, createWorkerClient, isPoolId, type DispatcherEnv, type Logger, type RedisKeys, type SecretBox, type WebhookJobData, type WorkerDirectory } from '@slotway/shared'
import { CapacitySignal } from './capacity-signal.js'
import { PoolRunner } from './pool-runner.js'
import { TaskRunner } from './task-runner.js'
import { startWebhookDeliverer } from './webhook-deliverer.js'

export interface DispatcherDeps {
  config: DispatcherEnv
  keys: RedisKeys
  redis: Redis
  subscriber: Redis
  directory: WorkerDirectory
  secretBox: SecretBox
  logger: Logger
  replicaId: string
}

/** Runs a PoolRunner for every pool that has Workers, following pools as they come and go. */
export class Dispatcher {
  private readonly runners = new Map<string, PoolRunner>()
  private readonly ledger: SlotLedger
  private readonly signal: CapacitySignal
  private readonly runner: TaskRunner
  private readonly webhooks: Queue<WebhookJobData>
  private readonly metrics: TaskMetrics
  private deliverer: QueueWorker<WebhookJobData> | undefined
  private keeper: NodeJS.Timeout | undefined
  private stopping = false

  constructor(private readonly deps: DispatcherDeps) {
    const { config, keys, redis, logger } = deps
    this.ledger = new SlotLedger(redis, keys, deps.replicaId, config.SLOT_LEASE)
    this.signal = new CapacitySignal(deps.subscriber, keys)
    this.webhooks = new Queue<WebhookJobData>(WEBHOOK_QUEUE, { connection: redis, prefix: keys.bullPrefix })
    this.metrics = new TaskMetrics(redis, keys)
    this.runner = new TaskRunner({
      redis,
      keys,
      ledger: this.ledger,
      directory: deps.directory,
      secretBox: deps.secretBox,
      lbAuthKey: config.LB_AUTH_KEY,
      callWorker: createWorkerClient({ timeoutMs: config.TASK_TIMEOUT, maxResponseBytes: config.MAX_RESULT_SIZE }),
      webhooks: this.webhooks,
      webhookAttempts: config.WEBHOOK_ATTEMPTS,
      webhookBackoffMs: config.WEBHOOK_BACKOFF,
      metrics: this.metrics,
      syncTimeoutMs: config.TASK_TIMEOUT,
      logger,
    })
  }

  async start(): Promise<void> {
    await this.signal.start()
    const { subscriber, keys } = this.deps
    subscriber.on('message', (channel: string, taskId: string) => {
      if (channel === keys.cancels) this.runner.cancel(taskId)
    })
    await subscriber.subscribe(keys.cancels)
    this.deliverer = startWebhookDeliverer({
      connection: this.deps.redis,
      bullPrefix: keys.bullPrefix,
      secretBox: this.deps.secretBox,
      secret: this.deps.config.WEBHOOK_SECRET,
      timeoutMs: this.deps.config.WEBHOOK_TIMEOUT,
      logger: this.deps.logger,
    })
    this.deps.directory.onChange(() => void this.followPools())
    await this.followPools()
    // Renew well inside both the slot lease and BullMQ's lock, so neither lapses while a task runs.
    const every = Math.floor(Math.min(this.deps.config.SLOT_LEASE, this.deps.config.JOB_LOCK_DURATION) / 3)
    this.keeper = setInterval(() => void this.keepLeases(), every)
  }

  private async keepLeases(): Promise<void> {
    try {
      await Promise.all([this.ledger.renewAll(), ...[...this.runners.values()].map(runner => runner.extendLocks())])
    } catch (error) {
      this.deps.logger.warn('lease renewal failed', { error: String(error) })
    }
  }

  /** Pools are known from the Workers in them, and from tasks already queued for them. */
  private async followPools(): Promise<void> {
    if (this.stopping) return
    const pools = this.deps.directory.pools()
    try {
      for (const pool of await this.deps.redis.smembers(this.deps.keys.pools)) pools.add(pool)
    } catch {
      // Redis away: the Workers we know of are enough for now.
    }
    for (const pool of pools) {
      // Only names Slotway itself makes become queues; anything else found in Redis is left alone.
      if (this.runners.has(pool) || !isPoolId(pool)) continue
      const runner = new PoolRunner(pool, {
        connection: this.deps.redis,
        keys: this.deps.keys,
        bullPrefix: this.deps.keys.bullPrefix,
        ledger: this.ledger,
        directory: this.deps.directory,
        signal: this.signal,
        runner: this.runner,
        lockDurationMs: this.deps.config.JOB_LOCK_DURATION,
        capacityRecheckMs: this.deps.config.CAPACITY_RECHECK_INTERVAL,
        logger: this.deps.logger,
      })
      this.runners.set(pool, runner)
      runner.start()
      this.deps.logger.info('dispatching pool', { pool })
    }
  }

  get activeTasks(): number {
    let count = 0
    for (const runner of this.runners.values()) count += runner.activeCount
    return count
  }

  async stop(): Promise<void> {
    this.stopping = true
    await Promise.all([
      ...[...this.runners.values()].map(runner => runner.stop(this.deps.config.DRAIN_TIMEOUT)),
      this.deliverer?.close(),
    ])
    clearInterval(this.keeper)
    await Promise.all([this.webhooks.close(), this.metrics.flush()])
  }
}
