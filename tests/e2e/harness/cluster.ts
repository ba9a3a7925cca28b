import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { redisKeys, workerIdForUrl, type RedisKeys, type WorkerState, type WorkerStatus } from '@slotway/shared'
import { ServiceProcess } from './process.js'
import { freePort } from './ports.js'
import { serviceEntry } from './paths.js'

export interface ClusterOptions {
  workerUrls: string[]
  dispatchers?: number
  gateways?: number
  env?: Record<string, string>
}

/** The real services, spawned as separate processes against the real Redis under a key prefix of their own. */
export class Cluster {
  readonly gateways: { process: ServiceProcess; url: string }[] = []
  readonly dispatchers: ServiceProcess[] = []
  discovery!: ServiceProcess
  readonly redis: Redis
  readonly keys: RedisKeys
  private readonly dir: string
  readonly workersFile: string
  readonly env: Record<string, string>

  private constructor(readonly lbAuthKey: string, prefix: string, extraEnv: Record<string, string>) {
    this.dir = mkdtempSync(join(tmpdir(), 'slotway-test-'))
    this.workersFile = join(this.dir, 'workers.json')
    this.keys = redisKeys(prefix)
    const redisUrl = extraEnv.REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 })
    this.redis.on('error', () => undefined)
    this.env = {
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      LB_AUTH_KEY: lbAuthKey,
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      WORKERS_FILE: this.workersFile,
      WORKER_DISCOVERY_INTERVAL: '500',
      WORKER_DISCOVERY_TIMEOUT: '1000',
      WS_HEARTBEAT_INTERVAL: '1000',
      WS_HEARTBEAT_TIMEOUT: '1000',
      TASK_TIMEOUT: '20000',
      TASK_BACKOFF: '50',
      ...extraEnv,
    }
  }

  static async start(options: ClusterOptions & { lbAuthKey: string }): Promise<Cluster> {
    const cluster = new Cluster(options.lbAuthKey, `slotway-test-${randomUUID().slice(0, 8)}`, options.env ?? {})
    cluster.writeWorkers(options.workerUrls)
    cluster.discovery = ServiceProcess.start('discovery', [serviceEntry('discovery')], cluster.env)
    for (let i = 0; i < (options.dispatchers ?? 1); i++) await cluster.addDispatcher()
    for (let i = 0; i < (options.gateways ?? 1); i++) cluster.gateways.push(await cluster.startGateway(i))
    await Promise.all([
      cluster.discovery.waitForLine(/discovery ready/),
      ...cluster.dispatchers.map(d => d.waitForLine(/dispatcher ready/)),
    ])
    return cluster
  }

  /** A port taken between picking and listening (by another test file) means another try. */
  private async startGateway(index: number): Promise<{ process: ServiceProcess; url: string }> {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      const gateway = ServiceProcess.start(`gateway-${index}`, [serviceEntry('gateway')], { ...this.env, PORT: String(port), HOST: '127.0.0.1' })
      try {
        await gateway.waitForLine(/gateway ready/)
        return { process: gateway, url: `http://127.0.0.1:${port}` }
      } catch (error) {
        if (!String(error).includes('EADDRINUSE') || attempt >= 3) throw error
      }
    }
  }

  async addDispatcher(): Promise<ServiceProcess> {
    const dispatcher = ServiceProcess.start(`dispatcher-${this.dispatchers.length}`, [serviceEntry('dispatcher')], this.env)
    this.dispatchers.push(dispatcher)
    return dispatcher
  }

  get gatewayUrl(): string {
    return this.gateways[0]!.url
  }

  /** Replaces workers.json the way an editor does: write aside, then rename over it. */
  writeWorkers(urls: string[]): void {
    const aside = `${this.workersFile}.tmp`
    writeFileSync(aside, JSON.stringify(urls))
    renameSync(aside, this.workersFile)
  }

  async workerState(url: string): Promise<WorkerState | undefined> {
    const json = await this.redis.hget(this.keys.workers, workerIdForUrl(url))
    return json ? (JSON.parse(json) as WorkerState) : undefined
  }

  /** Waits until every Worker listed has the wanted status. */
  async waitForWorkers(urls: string[], status: WorkerStatus = 'ready', timeoutMs = 20_000): Promise<void> {
    let states: (WorkerState | undefined)[] = []
    await this.waitUntil(async () => {
      states = await Promise.all(urls.map(url => this.workerState(url)))
      return states.every(state => state?.status === status)
    }, timeoutMs, () => `Workers not ${status} in time: ${JSON.stringify(states.map(s => s && { url: s.url, status: s.status, reason: s.reason }))}`)
  }

  /** Re-evaluates `check` on each of discovery's change messages (no polling) until it holds. */
  async waitUntil(check: () => Promise<boolean>, timeoutMs = 20_000, describe = () => 'condition not met in time'): Promise<void> {
    const subscriber = this.redis.duplicate()
    try {
      const wakers = new Set<() => void>()
      subscriber.on('message', () => wakers.forEach(wake => wake()))
      await subscriber.subscribe(this.keys.workersChanged)
      const deadline = Date.now() + timeoutMs
      while (!(await check())) {
        const left = deadline - Date.now()
        if (left <= 0) throw new Error(describe())
        await new Promise<void>(resolve => {
          const timer = setTimeout(done, left)
          function done() {
            clearTimeout(timer)
            wakers.delete(done)
            resolve()
          }
          wakers.add(done)
        })
      }
    } finally {
      subscriber.disconnect()
    }
  }

  /** The slot reservations gateways hold in the ledger right now (dispatchers' aside). */
  async gatewayReservations(): Promise<string[]> {
    const ledgers = await this.redis.keys(`${this.keys.prefix}:*:slots:*`)
    const members = await Promise.all(ledgers.map(key => this.redis.zrange(key, 0, -1)))
    return members.flat().filter(id => id.startsWith('gateway-'))
  }

  async stop(): Promise<void> {
    await Promise.all([this.discovery, ...this.dispatchers, ...this.gateways.map(g => g.process)].map(p => p.stop()))
    const stale = await this.redis.keys(`${this.keys.prefix}:*`)
    if (stale.length > 0) await this.redis.del(...stale)
    this.redis.disconnect()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** POST /task to a gateway with the keys a client would send. */
export async function submitTask(
  gatewayUrl: string,
  body: unknown,
  keys: { lb?: string | undefined; worker?: string | undefined },
): Promise<{ status: number; text: string; json: () => unknown; taskId: string | null }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (keys.lb !== undefined) headers.authorization = keys.lb
  if (keys.worker !== undefined) headers['x-wr-auth'] = keys.worker
  const response = await fetch(`${gatewayUrl}/task`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await response.text()
  return { status: response.status, text, json: () => JSON.parse(text), taskId: response.headers.get('x-slotway-task-id') }
}

/** GET/DELETE on a gateway with the LB key. */
export async function callGateway(gatewayUrl: string, method: string, path: string, lb: string): Promise<{ status: number; json: () => unknown }> {
  const response = await fetch(`${gatewayUrl}${path}`, { method, headers: { authorization: lb } })
  const text = await response.text()
  return { status: response.status, json: () => JSON.parse(text) }
}
