import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { mayReadHealth, mayReadLogs, mayRunTasks, presentedKeys, type Keys } from './auth.js'
import { BodyTooLargeError, readBody, sendJson } from './http-io.js'
import { RingLog } from './logs.js'
import { resolveOptions } from './options.js'
import { runTask } from './run-task.js'
import { SlotStream } from './slot-stream.js'
import { SlotPool } from './slots.js'
import { TaskStats } from './stats.js'
import { systemInfo } from './system.js'
import { parseTaskRequest } from './task-request.js'
import type { ListenOptions, ListenResult, ServiceState, SlotsSnapshot, SlotwayWorker, WorkerOptions } from './types.js'

// Above typical proxy/load-balancer idle timeouts (60 s), so the peer closes idle connections, not us.
const KEEP_ALIVE_TIMEOUT_MS = 65_000

/** Builds a Worker speaking the Slotway/Andera Worker protocol. Nothing listens until `listen()`. */
export function createWorker(options: WorkerOptions): SlotwayWorker {
  const cfg = resolveOptions(options)
  const keys: Keys = { authKey: cfg.authKey, lbAuthKey: cfg.lbAuthKey }
  const logs = new RingLog(cfg.logLimit)
  const stats = new TaskStats(cfg.statsEndpoint)
  let maintenance = cfg.maintenance
  let wsPort = 0
  let listening = false

  const statusWord = (): 'ready' | 'maintenance' => (maintenance ? 'maintenance' : 'ready')
  const slots = (): SlotsSnapshot => ({
    used: pool.used,
    available: maintenance ? 0 : Math.max(0, cfg.slots - pool.used),
    limit: cfg.slots,
    queue: pool.queued,
  })
  const services = (): ServiceState[] => {
    if (!cfg.services) return []
    try {
      return cfg.services()
    } catch (err) {
      // A probe that throws cannot vouch for anything: report it as a service that is down.
      return [{ name: 'services', status: { error: err instanceof Error ? err.message : String(err) }, state: 'down' }]
    }
  }

  const stream = new SlotStream({
    lbAuthKey: cfg.lbAuthKey,
    push: () => {
      const { uptime, cpuLoad, usedMemoryPercent } = systemInfo()
      return { status: statusWord(), slots: slots(), system: { uptime, cpuLoad, usedMemoryPercent }, services: services() }
    },
    pong: () => ({ status: statusWord(), slots: slots() }),
    log: line => logs.add(line),
  })
  let idleWaiters: (() => void)[] = []
  const pool = new SlotPool(cfg.slots, () => {
    stats.observe(pool.used, pool.queued)
    stream.broadcast()
    if (pool.used === 0 && pool.queued === 0) idleWaiters.splice(0).forEach(wake => wake())
  })
  const idle = (): Promise<void> =>
    pool.used === 0 && pool.queued === 0 ? Promise.resolve() : new Promise(resolve => idleWaiters.push(resolve))

  const setMaintenance = (on: boolean): void => {
    if (maintenance === on) return
    maintenance = on
    logs.add(`maintenance ${on ? 'on' : 'off'}`)
    stream.broadcast()
  }

  const healthDocument = (): unknown => ({
    status: statusWord(),
    group: cfg.group,
    contract: cfg.contract,
    websocketPort: wsPort,
    functions: Object.entries(cfg.functions).map(([name, fn]) => ({ name, params: fn.params })),
    services: services(),
    tags: cfg.tags,
    slots: slots(),
    system: systemInfo(),
  })

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let raw: Buffer
    try {
      raw = await readBody(req, cfg.bodyLimit)
    } catch (err) {
      // The unread rest of the upload would poison a kept-alive connection: close it after answering.
      if (err instanceof BodyTooLargeError) sendJson(res, 413, { error: 'Request body too large' }, { connection: 'close' })
      return
    }
    const path = (req.url ?? '/').split('?')[0]
    const presented = presentedKeys(req)

    if (path === '/stats' && cfg.statsEndpoint) return sendJson(res, 200, stats.document(pool.used, pool.queued))
    if (path === '/health' && req.method === 'GET') {
      return sendJson(res, 200, mayReadHealth(presented, keys) ? healthDocument() : { status: statusWord() })
    }
    if (path === '/logs' && req.method === 'GET') {
      if (!mayReadLogs(presented, keys)) return sendJson(res, 401, { error: 'Unauthorized' })
      return sendJson(res, 200, { logs: logs.lines() })
    }
    if ((path === '/on' || path === '/off') && req.method === 'POST') {
      if (!mayRunTasks(presented, keys)) return sendJson(res, 401, { error: 'Unauthorized' })
      // The engine's naming, kept for compatibility: /off switches the Worker off, i.e. maintenance ON.
      setMaintenance(path === '/off')
      return sendJson(res, 200, { status: statusWord() })
    }
    if (path !== '/task' || req.method !== 'POST') return sendJson(res, 404, { error: 'Not found' })

    if (!mayRunTasks(presented, keys)) return sendJson(res, 401, { error: 'Unauthorized' })
    if (maintenance) return sendJson(res, 503, { error: 'Worker is in maintenance mode' })
    let body: unknown
    try {
      body = JSON.parse(raw.toString('utf8') || '{}')
    } catch {
      return sendJson(res, 400, { error: 'Invalid JSON body' })
    }
    const task = parseTaskRequest(body, cfg.functions, cfg.contract)
    if ('status' in task) return sendJson(res, task.status, { error: task.error })
    await runTask(res, task, { pool, stats, logs, patterns: cfg.patterns.get(task.name) ?? new Map() })
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch(err => {
      logs.add(`internal error: ${err instanceof Error ? err.message : String(err)}`)
      sendJson(res, 500, { error: 'Internal error' })
    })
  })
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000

  const listenHttp = (port: number, host: string): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve((server.address() as AddressInfo).port)
      })
    })

  const closeHttp = (): Promise<void> =>
    new Promise(resolve => {
      if (!server.listening) return resolve()
      server.close(() => resolve())
      // Hard stop: in-flight tasks see their signal aborted; queued ones leave the queue.
      server.closeAllConnections()
    })

  return {
    async listen({ port, wsPort: wantedWsPort, host = '127.0.0.1' }: ListenOptions): Promise<ListenResult> {
      if (listening) throw new Error('Worker is already listening')
      listening = true
      try {
        // WebSocket first: /health must never announce a websocketPort that is not open yet.
        wsPort = await stream.listen(wantedWsPort, host)
        const httpPort = await listenHttp(port, host)
        logs.add(`listening: http ${httpPort}, ws ${wsPort}`)
        return { port: httpPort, wsPort }
      } catch (err) {
        await Promise.all([stream.close(), closeHttp()])
        listening = false
        throw err
      }
    },
    async close({ drainMs = 0 }: { drainMs?: number } = {}): Promise<void> {
      if (drainMs > 0) {
        // Announce maintenance (the load balancer stops sending), let running tasks finish, then stop.
        setMaintenance(true)
        let timer: NodeJS.Timeout | undefined
        await Promise.race([idle(), new Promise(resolve => (timer = setTimeout(resolve, drainMs)))])
        clearTimeout(timer)
        idleWaiters = []
      }
      await Promise.all([stream.close(), closeHttp()])
    },
    setMaintenance,
    get maintenance() {
      return maintenance
    },
    slots,
  }
}
