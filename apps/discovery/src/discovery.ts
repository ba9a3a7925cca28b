import type { Redis } from 'ioredis'
import { workerIdForUrl, type DiscoveryEnv, type Logger, type RedisKeys } from '@slotway/shared'
import { LeaderLock } from './leader-lock.js'
import { StatePublisher } from './state-publisher.js'
import { WorkerListFile } from './worker-list-file.js'
import { WorkerTracker, type TrackerOptions } from './worker-tracker.js'

export interface DiscoveryDeps {
  config: DiscoveryEnv
  keys: RedisKeys
  redis: Redis
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
  private urls: string[] = []
  private leading = false
  private fileTimer: NodeJS.Timeout | undefined

  constructor(private readonly deps: DiscoveryDeps) {
    const { config, keys, redis, logger } = deps
    this.publisher = new StatePublisher(redis, keys, logger)
    this.file = new WorkerListFile(config.WORKERS_FILE, logger, urls => {
      this.urls = urls
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
    await this.file.start()
    this.fileTimer = setInterval(() => void this.file.refresh(), this.deps.config.WORKER_DISCOVERY_INTERVAL)
    this.lock.start()
  }

  /** Makes the running trackers match the list (or stops them all when not leading). */
  private async reconcile(): Promise<void> {
    const wanted = new Map(this.leading ? this.urls.map(url => [workerIdForUrl(url), url]) : [])
    for (const [id, tracker] of this.trackers) {
      if (wanted.has(id)) continue
      tracker.stop()
      this.trackers.delete(id)
      if (this.leading) await this.publisher.remove(id, tracker.url).catch(() => undefined)
    }
    for (const [id, url] of wanted) {
      if (this.trackers.has(id)) continue
      const tracker = new WorkerTracker(url, this.trackerOptions, state => this.publisher.publish(state))
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
