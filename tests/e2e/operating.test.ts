import { createServer, type IncomingHttpHeaders } from 'node:http'
import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { workerIdForUrl } from '@slotway/shared'
import { Cluster, submitTask } from './harness/cluster.js'
import { workerKinds } from './harness/paths.js'
import { freePort } from './harness/ports.js'
import { ServiceProcess } from './harness/process.js'
import { serviceEntry } from './harness/paths.js'
import { TestWorker } from './harness/test-worker.js'

const LB_KEY = 'lb-key-for-operating-0123456789'
const METRICS_TOKEN = 'metrics-token-0123456789'
const kind = workerKinds().at(-1)!

/** Writes a whole request at once on a fresh socket and reads the answer's status line. */
function rawStatusLine(baseUrl: string, requestLine: string, headers: Record<string, string>, body: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      const head = Object.entries({ ...headers, host: `${hostname}:${port}`, 'content-length': String(Buffer.byteLength(body)) }).map(([k, v]) => `${k}: ${v}`).join('\r\n')
      socket.write(`${requestLine} HTTP/1.1\r\n${head}\r\n\r\n${body}`)
    })
    let received = ''
    socket.on('data', chunk => (received += chunk.toString('latin1')))
    socket.on('error', reject)
    socket.on('close', () => resolve(received.split('\r\n')[0] ?? ''))
  })
}

async function request(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string; json: () => Record<string, unknown> }> {
  const response = await fetch(url, init)
  const text = await response.text()
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) }
}

describe(`operating Slotway (against the ${kind} Worker)`, () => {
  let cluster: Cluster
  let worker: TestWorker
  let gateway: string

  beforeAll(async () => {
    worker = await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 2 })
    cluster = await Cluster.start({
      lbAuthKey: LB_KEY,
      workerUrls: [worker.url],
      dispatchers: 2,
      env: { METRICS_TOKEN, REQUEST_BODY_LIMIT: '4kb', TASK_ATTEMPTS: '2', NODE_ENV: 'production', AUTH_FAILURE_LIMIT: '1000' },
    })
    gateway = cluster.gatewayUrl
    await cluster.waitForWorkers([worker.url])
  })
  afterAll(async () => {
    await cluster?.stop()
    await worker?.stop()
  })

  const withKey = (key: string | undefined, init: RequestInit = {}): RequestInit => ({
    ...init,
    headers: { ...(init.headers as Record<string, string>), ...(key === undefined ? {} : { authorization: key }) },
  })

  it('auth matrix: every route refuses no key and a wrong key, and accepts the right one', async () => {
    const id = workerIdForUrl(worker.url)
    const routes: [string, string, RequestInit?][] = [
      ['POST', '/task', { headers: { 'content-type': 'application/json', 'x-wr-auth': worker.authKey }, body: JSON.stringify({ function: 'hello', contract: 1 }) }],
      ['GET', `/task/${randomUUID()}`],
      ['DELETE', `/task/${randomUUID()}`],
      ['GET', '/workers'],
      ['POST', '/workers', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: 'ftp://nowhere' }) }],
      ['DELETE', '/workers/unknown'],
      ['GET', `/workers/${id}/logs`],
      ['GET', '/logs'],
      ['GET', '/metrics'],
      ['GET', '/bull/'],
      ['GET', '/no-such-route'],
    ]
    for (const [method, path, init] of routes) {
      for (const key of [undefined, 'wrong-key-0123456789']) {
        const response = await request(`${gateway}${path}`, withKey(key, { method, ...init }))
        expect(response.status, `${method} ${path} with ${key ?? 'no key'}`).toBe(401)
        expect(response.json().error).toEqual(expect.any(String))
      }
      const response = await request(`${gateway}${path}`, withKey(LB_KEY, { method, ...init }))
      expect(response.status, `${method} ${path} with the key`).not.toBe(401)
      expect(response.status, `${method} ${path} with the key`).toBeLessThan(500)
    }
    // The metrics token opens /metrics and nothing else.
    expect((await request(`${gateway}/metrics`, withKey(METRICS_TOKEN))).status).toBe(200)
    expect((await request(`${gateway}/logs`, withKey(METRICS_TOKEN))).status).toBe(401)
  })

  it('health: public form without the key, the whole picture with it', async () => {
    expect((await request(`${gateway}/health`)).json()).toEqual({ status: 'ready' })
    expect((await request(`${gateway}/health`, withKey('wrong'))).json()).toEqual({ status: 'ready' })
    const detail = (await request(`${gateway}/health`, withKey(LB_KEY))).json() as {
      status: string; workers: { url: string; status: string }[]; invalidWorkers: unknown[]; services: Record<string, unknown>
    }
    expect(detail.status).toBe('ready')
    expect(detail.workers.map(w => [w.url, w.status])).toEqual([[worker.url, 'ready']])
    expect(detail.invalidWorkers).toEqual([])
    expect(detail.services).toEqual({ redis: 'up', bullmq: 'up', discovery: 'up', dispatchers: 2 })
  })

  it('sends the LB key nowhere but to registered Workers (no SSRF through the logs proxy or webhooks)', async () => {
    const seen: IncomingHttpHeaders[] = []
    const trap = createServer((req, res) => {
      seen.push(req.headers)
      req.resume()
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"logs":[]}')
    })
    const port = await freePort()
    await new Promise<void>(resolve => trap.listen(port, '127.0.0.1', resolve))
    try {
      const trapUrl = `http://127.0.0.1:${port}`
      // The logs proxy takes a registered Worker's id, never a URL.
      expect((await request(`${gateway}/workers/${workerIdForUrl(trapUrl)}/logs`, withKey(LB_KEY))).status).toBe(404)
      expect((await request(`${gateway}/workers/${encodeURIComponent(trapUrl)}/logs`, withKey(LB_KEY))).status).toBe(404)
      // A webhook goes where the client asks, but with none of our keys.
      const hooked = await submitTask(gateway, { function: 'hello', contract: 1, mode: 'webhook', webhook: { url: `${trapUrl}/hook` } }, { lb: LB_KEY, worker: worker.authKey })
      expect(hooked.status).toBe(202)
      while (seen.length === 0) await new Promise(resolve => setTimeout(resolve, 20))
      for (const headers of seen) {
        const values = Object.values(headers).join(' ')
        expect(values).not.toContain(LB_KEY)
        expect(values).not.toContain(worker.authKey)
      }
    } finally {
      trap.close()
    }
  })

  it('answers body, type and route problems with JSON 4xx, and shrugs off prototype keys and deep nesting', async () => {
    const post = (body: string, type = 'application/json') =>
      request(`${gateway}/task`, withKey(LB_KEY, { method: 'POST', headers: { 'content-type': type, 'x-wr-auth': worker.authKey }, body }))
    const big = await post(JSON.stringify({ function: 'echo', contract: 1, input: { value: { blob: 'x'.repeat(5000) } } }))
    expect(big.status).toBe(413)
    expect(big.json().error).toContain('larger than the limit')
    // A client that sends it all at once and closes after: it still reads the 413 (the rest of the body is taken in first).
    expect(await rawStatusLine(gateway, 'POST /task', { 'content-type': 'application/json', authorization: LB_KEY, 'x-wr-auth': worker.authKey, connection: 'close' }, 'x'.repeat(2_000_000))).toBe('HTTP/1.1 413 Payload Too Large')
    expect((await post('{"function": "hello",')).status).toBe(400)
    expect((await post('{"function":"hello","contract":1}', 'text/plain')).status).toBe(415)
    expect((await request(`${gateway}/nope`, withKey(LB_KEY))).json()).toMatchObject({ error: expect.stringContaining('no route') })
    const deep = '{"value":'.repeat(100) + '1' + '}'.repeat(100)
    const tooDeep = await post(`{"function":"echo","contract":1,"input":${deep}}`)
    expect(tooDeep.status).toBe(400)
    expect(tooDeep.json().error).toContain('nested deeper')
    const polluted = await post('{"function":"hello","contract":1,"input":{"__proto__":{"name":"Evil"}},"__proto__":{"group":"evil"}}')
    expect(polluted.status).toBe(200)
    expect(polluted.json()).toEqual({ success: true, result: { message: 'Hello World!' } })
    // And nothing leaked into later requests.
    expect((await post('{"function":"hello","contract":1}')).json()).toEqual({ success: true, result: { message: 'Hello World!' } })
    // Read as express.json reads a body: strict JSON, an empty body is {}, compressed bodies are inflated.
    expect((await post('"hello"')).json()).toMatchObject({ code: 'MALFORMED_JSON' })
    expect((await post('')).json()).toMatchObject({ code: 'INVALID_TASK' })
    expect((await post('{"function":"hello","contract":1}', 'application/json; charset=latin1')).status).toBe(415)
    // Spaces around '=' still name the charset: read as UTF-16, this UTF-8 body is no JSON.
    expect((await post('{"function":"hello","contract":1}', 'application/json; charset = utf-16')).status).toBe(400)
    const compressed = await request(`${gateway}/task`, withKey(LB_KEY, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-wr-auth': worker.authKey },
      body: gzipSync('{"function":"hello","contract":1,"input":{"name":"Zip"}}'),
    }))
    expect(compressed.json()).toEqual({ success: true, result: { message: 'Hello Zip!' } })
  })

  it('sets helmet security headers on every answer, and no CORS unless configured', async () => {
    // POST /task is answered on its own fast path, outside express: it must carry the same headers.
    const task = await request(`${gateway}/task`, withKey(LB_KEY, { method: 'POST', headers: { 'content-type': 'application/json', 'x-wr-auth': worker.authKey }, body: '{"function":"hello","contract":1}' }))
    expect(task.status).toBe(200)
    const refused = await request(`${gateway}/task`, withKey(LB_KEY, { method: 'POST', headers: { 'content-type': 'application/json', 'x-wr-auth': worker.authKey }, body: '{"function":' }))
    expect(refused.status).toBe(400)
    for (const response of [task, refused, await request(`${gateway}/health`), await request(`${gateway}/nope`), await request(`${gateway}/logs`, withKey(LB_KEY))]) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff')
      expect(response.headers.get('content-security-policy')).toBeTruthy()
      expect(response.headers.get('access-control-allow-origin')).toBeNull()
    }
  })

  it('GET /logs: lines of every service, newest last, filtered by service, level and limit', async () => {
    type Line = { time: string; level: string; service: string; replica: string; message: string }
    // Services write their lines in batches (a fifth of a second): read until all three have.
    let all: { logs: Line[] } = { logs: [] }
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise(resolve => setTimeout(resolve, 50))) {
      all = (await request(`${gateway}/logs`, withKey(LB_KEY))).json() as { logs: Line[] }
      if (new Set(all.logs.map(l => l.service)).size === 3) break
    }
    expect(new Set(all.logs.map(l => l.service))).toEqual(new Set(['gateway', 'dispatcher', 'discovery']))
    const times = all.logs.map(l => Date.parse(l.time))
    expect([...times].sort((a, b) => a - b)).toEqual(times)
    for (const line of all.logs) expect(line).toMatchObject({ time: expect.any(String), level: expect.any(String), service: expect.any(String), replica: expect.any(String), message: expect.any(String) })
    const dispatcher = (await request(`${gateway}/logs?service=dispatcher`, withKey(LB_KEY))).json() as { logs: { service: string }[] }
    expect(dispatcher.logs.length).toBeGreaterThan(0)
    expect(dispatcher.logs.every(l => l.service === 'dispatcher')).toBe(true)
    const two = (await request(`${gateway}/logs?limit=2`, withKey(LB_KEY))).json() as { logs: unknown[] }
    expect(two.logs).toEqual(all.logs.slice(-2).length === 2 ? expect.any(Array) : [])
    expect(two.logs).toHaveLength(2)
    const errors = (await request(`${gateway}/logs?level=error`, withKey(LB_KEY))).json() as { logs: { level: string }[] }
    expect(errors.logs.every(l => l.level === 'error')).toBe(true)
    expect((await request(`${gateway}/logs?level=loud`, withKey(LB_KEY))).status).toBe(400)
  })

  it('logs a Worker status change once, not on every poll', async () => {
    // Several discovery polls have passed since the Worker became ready.
    const ready = cluster.discovery.lines.filter(line => line.includes('Worker is ready') && line.includes(worker.url))
    expect(ready).toHaveLength(1)
  })

  it('metrics: counts tasks, latencies, queues and Worker slots', async () => {
    // A pool of its own, so no other test's tasks are counted in it.
    const metered = await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 2, group: 'metered' })
    try {
      expect((await request(`${gateway}/workers`, withKey(LB_KEY, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: metered.url }) }))).status).toBe(201)
      await cluster.waitForWorkers([metered.url])
      const submit = (fn: string) => submitTask(gateway, { group: 'metered', function: fn, contract: 1 }, { lb: LB_KEY, worker: metered.authKey })
      for (let i = 0; i < 3; i++) expect((await submit('hello')).status).toBe(200)
      expect((await submit('fail')).status).toBe(500)
      const pool = 'pool="metered@1"'
      const value = (text: string, name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, m => `\\${m}`)} (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
      const expected: Record<string, number> = {
        [`slotway_tasks_submitted_total{${pool}}`]: 4,
        [`slotway_tasks_completed_total{${pool}}`]: 3,
        [`slotway_tasks_failed_total{${pool}}`]: 1,
        [`slotway_tasks_retried_total{${pool}}`]: 1,
        [`slotway_task_queue_wait_seconds_count{${pool}}`]: 4,
        [`slotway_task_run_seconds_count{${pool}}`]: 5,
        [`slotway_worker_up{worker="${metered.url}",pool="metered@1"}`]: 1,
        [`slotway_worker_slots_limit{worker="${metered.url}",pool="metered@1"}`]: 2,
        [`slotway_queue_depth{${pool},state="waiting"}`]: 0,
      }
      // Each service writes its counts in batches (a quarter second): read until they are all in.
      const deadline = Date.now() + 10_000
      let text = ''
      let actual: Record<string, number> = {}
      do {
        text = (await request(`${gateway}/metrics`, withKey(METRICS_TOKEN))).text
        actual = Object.fromEntries(Object.keys(expected).map(name => [name, value(text, name)]))
        if (JSON.stringify(actual) === JSON.stringify(expected)) break
        await new Promise(resolve => setTimeout(resolve, 50))
      } while (Date.now() < deadline)
      expect(actual).toEqual(expected)
      expect(text).toContain('# TYPE slotway_task_run_seconds histogram')
    } finally {
      await metered.stop()
    }
  })

  it('Bull Board is behind the key, and its page and assets load with it', async () => {
    const basic = `Basic ${Buffer.from(`admin:${LB_KEY}`).toString('base64')}`
    const refused = await request(`${gateway}/bull/`)
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toContain('Basic')
    const page = await request(`${gateway}/bull/`, withKey(basic))
    expect(page.status).toBe(200)
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map(m => m[1]!)
    expect(assets.length).toBeGreaterThan(0)
    for (const asset of assets) {
      const url = new URL(asset, `${gateway}/bull/`).toString()
      expect((await request(url, withKey(basic))).status, asset).toBe(200)
      expect((await request(url)).status, asset).toBe(401)
    }
    const queues = await request(`${gateway}/bull/api/queues`, withKey(basic))
    expect(queues.text).toContain('default@1')
  })

  it('answers every route of its OpenAPI document with a status the document lists', async () => {
    const doc = (await request(`${gateway}/openapi.json`)).json() as { paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>> }
    const bodies: Record<string, unknown> = { 'POST /task': { function: 'hello', contract: 1 }, 'POST /workers': { url: 'ftp://not-http' } }
    let checked = 0
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const concrete = path.replace('{id}', path.startsWith('/task') ? randomUUID() : workerIdForUrl(worker.url))
        const body = bodies[`${method.toUpperCase()} ${path}`]
        const response = await request(`${gateway}${concrete}`, {
          method: method.toUpperCase(),
          headers: { authorization: LB_KEY, 'x-wr-auth': worker.authKey, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        })
        expect(Object.keys(operation.responses), `${method.toUpperCase()} ${path} answered ${response.status}`).toContain(String(response.status))
        checked++
      }
    }
    expect(checked).toBeGreaterThanOrEqual(11)
  })

  it('never writes a key to a log line', async () => {
    const lines = [...cluster.discovery.lines, ...cluster.dispatchers.flatMap(d => d.lines), ...cluster.gateways.flatMap(g => g.process.lines)]
    const stored = (await request(`${gateway}/logs`, withKey(LB_KEY))).text
    for (const text of [lines.join('\n'), stored]) {
      expect(text).not.toContain(LB_KEY)
      expect(text).not.toContain(worker.authKey)
      expect(text).not.toContain(METRICS_TOKEN)
    }
  })
})

describe(`the Worker registry (against the ${kind} Worker)`, () => {
  let cluster: Cluster
  const workers: TestWorker[] = []

  beforeAll(async () => {
    workers.push(await TestWorker.start({ kind, lbAuthKey: LB_KEY }))
    cluster = await Cluster.start({ lbAuthKey: LB_KEY, workerUrls: [workers[0]!.url] })
    await cluster.waitForWorkers([workers[0]!.url])
  })
  afterAll(async () => {
    await cluster?.stop()
    await Promise.all(workers.map(w => w.stop()))
  })

  const api = (method: string, path: string, body?: unknown) =>
    request(`${cluster.gatewayUrl}${path}`, { method, headers: { authorization: LB_KEY, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) })

  it('adds a Worker through the API, routes tasks to it, refuses duplicates and bad URLs, and removes it', async () => {
    const added = await TestWorker.start({ kind, lbAuthKey: LB_KEY, group: 'via-api' })
    workers.push(added)
    const created = await api('POST', '/workers', { url: `${added.url}/` })
    expect(created.status).toBe(201)
    expect(created.json()).toMatchObject({ id: workerIdForUrl(added.url), url: added.url })
    expect((await api('POST', '/workers', { url: added.url })).status).toBe(409)
    expect((await api('POST', '/workers', { url: workers[0]!.url })).status).toBe(409)
    for (const url of ['ftp://x', 'javascript:alert(1)', 'not a url', 42]) expect((await api('POST', '/workers', { url })).status).toBe(400)
    await cluster.waitForWorkers([added.url])
    const listed = (await api('GET', '/workers')).json() as { workers: { url: string; source: string }[] }
    expect(listed.workers.map(w => [w.url, w.source]).sort()).toEqual([[workers[0]!.url, 'file'], [added.url, 'api']].sort())
    const task = await submitTask(cluster.gatewayUrl, { group: 'via-api', function: 'hello', contract: 1 }, { lb: LB_KEY, worker: added.authKey })
    expect(task.status).toBe(200)
    const logs = (await api('GET', `/workers/${workerIdForUrl(added.url)}/logs`)).json() as { logs: string[] }
    expect(logs.logs.some(line => line.includes('hello'))).toBe(true)
    expect((await api('DELETE', `/workers/${workerIdForUrl(workers[0]!.url)}`)).status).toBe(409)
    expect((await api('DELETE', `/workers/${workerIdForUrl(added.url)}`)).status).toBe(200)
    await cluster.waitUntil(async () => (await cluster.workerState(added.url)) === undefined)
    expect((await api('DELETE', `/workers/${workerIdForUrl(added.url)}`)).status).toBe(404)
  })
})

describe(`contract validation (against the ${kind} Worker)`, () => {
  let cluster: Cluster
  let good: TestWorker
  let odd: TestWorker

  beforeAll(async () => {
    good = await TestWorker.start({ kind, lbAuthKey: LB_KEY })
    cluster = await Cluster.start({ lbAuthKey: LB_KEY, workerUrls: [good.url] })
    await cluster.waitForWorkers([good.url])
  })
  afterAll(async () => {
    await cluster?.stop()
    await Promise.all([good?.stop(), odd?.stop()])
  })

  it('marks a Worker whose functions differ from its pool invalid, gives it nothing, and takes it back once fixed', async () => {
    odd = await TestWorker.start({ kind, lbAuthKey: LB_KEY, extraFunction: 'surprise' })
    cluster.writeWorkers([good.url, odd.url])
    await cluster.waitForWorkers([odd.url], 'invalid')
    const health = (await request(`${cluster.gatewayUrl}/health`, { headers: { authorization: LB_KEY } })).json() as { invalidWorkers: { url: string; reason: string }[] }
    expect(health.invalidWorkers).toEqual([expect.objectContaining({ url: odd.url, reason: expect.stringContaining('extra surprise') })])
    // Its extra function is no function of the pool, and the pool's tasks all go to the good Worker.
    expect((await submitTask(cluster.gatewayUrl, { function: 'surprise', contract: 1 }, { lb: LB_KEY, worker: odd.authKey })).status).toBe(404)
    for (let i = 0; i < 4; i++) expect((await submitTask(cluster.gatewayUrl, { function: 'hello', contract: 1 }, { lb: LB_KEY, worker: good.authKey })).status).toBe(200)
    expect((await odd.stats()).received).toBe(0)
    // Fixed: the same Worker (same address) comes back with the pool's functions.
    const { port, wsPort } = odd
    await odd.stop()
    odd = await TestWorker.start({ kind, lbAuthKey: LB_KEY, port, wsPort })
    await cluster.waitForWorkers([odd.url])
    expect(cluster.discovery.lines.filter(line => line.includes('Worker is invalid') && line.includes(odd.url))).toHaveLength(1)
  })
})

describe(`a Worker whose group cannot name a queue (against the ${kind} Worker)`, () => {
  let cluster: Cluster
  let odd: TestWorker

  beforeAll(async () => {
    odd = await TestWorker.start({ kind, lbAuthKey: LB_KEY, group: 'a:b' })
    cluster = await Cluster.start({ lbAuthKey: LB_KEY, workerUrls: [odd.url] })
  })
  afterAll(async () => {
    await cluster?.stop()
    await odd?.stop()
  })

  it('is invalid, and every service stays up', async () => {
    await cluster.waitForWorkers([odd.url], 'invalid')
    expect((await cluster.workerState(odd.url))?.reason).toContain('group')
    const health = (await request(`${cluster.gatewayUrl}/health`, { headers: { authorization: LB_KEY } })).json() as { services: { dispatchers: number } }
    expect(health.services.dispatchers).toBe(1)
    for (const service of [cluster.discovery, ...cluster.dispatchers]) expect(service.child.exitCode).toBeNull()
  })
})

describe('configuration', () => {
  it('stops a service with one line naming a bad variable, and refuses a short LB key outside development', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ LB_AUTH_KEY: 'long-enough-key-0123', TASK_TIMEOUT: 'soon' }, /TASK_TIMEOUT/],
      [{ LB_AUTH_KEY: 'short', NODE_ENV: 'production' }, /LB_AUTH_KEY must be at least 16 characters/],
      [{}, /LB_AUTH_KEY/],
    ]
    for (const [env, message] of cases) {
      const gateway = ServiceProcess.start('gateway', [serviceEntry('gateway')], { PORT: '0', ...env })
      expect(await gateway.exited).toBe(1)
      expect(gateway.lines).toHaveLength(1)
      expect(gateway.lines[0]).toMatch(message)
    }
  })
})

describe('failed authentication', () => {
  it('is rate-limited per client address: 429 with Retry-After, even for the right key then', async () => {
    const port = await freePort()
    const gateway = ServiceProcess.start('gateway', [serviceEntry('gateway')], {
      PORT: String(port), HOST: '127.0.0.1', LB_AUTH_KEY: LB_KEY, REDIS_PREFIX: `slotway-test-${randomUUID().slice(0, 8)}`,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', AUTH_FAILURE_LIMIT: '3', AUTH_FAILURE_WINDOW: '30', LOG_FORMAT: 'json',
    })
    try {
      await gateway.waitForLine(/gateway ready/)
      const logs = (key: string) => request(`http://127.0.0.1:${port}/logs`, { headers: { authorization: key } })
      for (let i = 0; i < 3; i++) expect((await logs('wrong-key')).status).toBe(401)
      const blocked = await logs('wrong-key')
      expect(blocked.status).toBe(429)
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(blocked.json().error).toContain('too many failed authentications')
      expect((await logs(LB_KEY)).status).toBe(429)
    } finally {
      await gateway.stop()
    }
  })
})
