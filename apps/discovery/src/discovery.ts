import type { Redis } from 'ioredis'
import { workerIdForUrl, type DiscoveryEnv, type Logger, type RedisKeys, type WorkerState } from '@slotway/shared'
import { ContractCheck } from './contract-check.js'
import { LeaderLock } from './leader-lock.js'
import { StatePublisher } from './state-publisher.js'
import { WorkerListFile } from './worker-list-file.js'
import { WorkerTracker, type TrackerOptions } from './worker-tracker.js'

export interface DiscoveryDeps {
  config: DiscoveryEnv
  keys: RedisKeys
  redis: Redis
  subscriber: Redis
  logger: Logger
  replicaId: string
}

/**
 * Owns the Worker registry: reads the list, tracks each Worker while this replica holds the
 * leadership lock, and publishes their states. A standby replica only waits for the lock.
 */
export class Discovery {
  private readonly trackers = new Map<string, WorkerTracker>()
  private readonly publisher: StatePublisher
  private readonly lock: LeaderLock
  private readonly file: WorkerListFile
  private readonly trackerOptions: TrackerOptions
  private fileUrls: string[] = []
  private apiUrls: string[] = []
  private readonly contracts = new ContractCheck()
  private readonly latest = new Map<string, WorkerState>()
  private readonly verdicts = new Map<string, string>()
  private leading = false
  private fileTimer: NodeJS.Timeout | undefined

  constructor(private readonly deps: DiscoveryDeps) {
    const { config, keys, redis, logger } = deps
    this.publisher = new StatePublisher(redis, keys, logger)
    this.file = new WorkerListFile(config.WORKERS_FILE, logger, urls => {
      this.fileUrls = urls
      logger.info('Worker list loaded', { file: this.file.path, workers: urls.length })
      void this.reconcile()
    })
    this.lock = new LeaderLock(redis, keys.discoveryLeader, deps.replicaId, config.DISCOVERY_LOCK_TTL, leading => {
      this.leading = leading
      logger.info(leading ? 'leading: polling Workers' : 'standing by: another replica polls Workers')
      void this.reconcile()
    })
    this.trackerOptions = {
      health: { lbAuthKey: config.LB_AUTH_KEY, timeoutMs: config.WORKER_DISCOVERY_TIMEOUT, retries: config.WORKER_DISCOVERY_RETRIES },
      stream: { lbAuthKey: config.LB_AUTH_KEY, heartbeatIntervalMs: config.WS_HEARTBEAT_INTERVAL, heartbeatTimeoutMs: config.WS_HEARTBEAT_TIMEOUT },
      pollIntervalMs: config.WORKER_DISCOVERY_INTERVAL,
    }
  }

  async start(): Promise<void> {
    const { subscriber, keys } = this.deps
    subscriber.on('message', (channel: string) => channel === keys.registryChanged && void this.loadRegistry())
    await subscriber.subscribe(keys.registryChanged)
    await this.loadRegistry()
    await this.file.start()
    // Both lists are re-read on every poll too, in case a change message or a file event was lost.
    this.fileTimer = setInterval(() => void this.file.refresh().then(() => this.loadRegistry()), this.deps.config.WORKER_DISCOVERY_INTERVAL)
    this.lock.start()
  }

  /** Workers added through the gateway's API, kept in Redis. */
  private async loadRegistry(): Promise<void> {
    try {
      const urls = Object.values(await this.deps.redis.hgetall(this.deps.keys.registry)).sort()
      if (urls.join('\n') === this.apiUrls.join('\n')) return
      this.apiUrls = urls
      await this.reconcile()
    } catch {
      // Redis away: keep the list we have.
    }
  }

  private get urls(): string[] {
    return [...new Set([...this.fileUrls, ...this.apiUrls])]
  }

  /** Every state goes through the contract check, which may change other Workers of the pool too. */
  private onState(state: WorkerState): void {
    this.latest.set(state.id, state)
    for (const checked of this.contracts.apply([...this.latest.values()])) {
      const before = this.verdicts.get(checked.id)
      const verdict = `${checked.status}|${checked.reason ?? ''}`
      // The Worker that changed, and any other whose validity the change flipped.
      if (checked.id !== state.id && before === verdict) continue
      this.verdicts.set(checked.id, verdict)
      this.publisher.publish(checked)
    }
  }

  /** Makes the running trackers match the list (or stops them all when not leading). */
  private async reconcile(): Promise<void> {
    const wanted = new Map(this.leading ? this.urls.map(url => [workerIdForUrl(url), url]) : [])
    for (const [id, tracker] of this.trackers) {
      if (wanted.has(id)) continue
      tracker.stop()
      this.trackers.delete(id)
      this.latest.delete(id)
      this.verdicts.delete(id)
      if (this.leading) await this.publisher.remove(id, tracker.url).catch(() => undefined)
    }
    for (const [id, url] of wanted) {
      if (this.trackers.has(id)) continue
      const tracker = new WorkerTracker(url, this.trackerOptions, state => this.onState(state), (workerId, slots) => this.publisher.updateSlots(workerId, slots))
      this.trackers.set(id, tracker)
      tracker.start()
    }
    if (this.leading) await this.publisher.forgetAllBut(new Set(wanted.keys())).catch(() => undefined)
  }

  async stop(): Promise<void> {
    clearInterval(this.fileTimer)
    this.file.stop()
    for (const tracker of this.trackers.values()) tracker.stop()
    this.trackers.clear()
    this.publisher.stop()
    await this.lock.stop()
  }
}
