import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createWorker, defineFunction, type SlotwayWorker, type WorkerOptions } from './index.js'

const AUTH = 'worker-key-123'
const LB = 'lb-key-456'

const functions = {
  hello: defineFunction({
    params: { name: { type: 'string', required: false, default: 'World' } },
    streams: true,
    async run({ name }, ctx) {
      if (ctx.write) return void ctx.write(`Hello ${name}!`)
      return { message: `Hello ${name}!` }
    },
  }),
  sleep: defineFunction({
    params: { ms: { type: 'number', required: true, min: 0, max: 600000 }, tag: { type: 'string', required: false } },
    async run({ ms, tag }, ctx) {
      await delay(ms, undefined, { signal: ctx.signal })
      return { slept: ms, tag: tag ?? null }
    },
  }),
  pick: defineFunction({
    params: { color: { type: 'string', required: true, enum: ['red', 'blue'] }, code: { type: 'string', pattern: '^[a-z]+$' } },
    async run(input) {
      return input
    },
  }),
  chunks: defineFunction({
    params: {},
    streams: true,
    async run(_input, ctx) {
      ctx.write?.('one,')
      await delay(80)
      ctx.write?.('two')
      return undefined
    },
  }),
  streamFail: defineFunction({
    params: {},
    streams: true,
    async run() {
      throw new Error('no stream today')
    },
  }),
  fail: defineFunction({
    params: { message: { type: 'string', required: false, default: 'failed on purpose' } },
    async run({ message }) {
      throw new Error(message)
    },
  }),
}

interface Running {
  worker: SlotwayWorker
  base: string
  wsUrl: string
  wsPort: number
}

const started: SlotwayWorker[] = []
const sockets: WebSocket[] = []

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate()
  await Promise.all(started.splice(0).map(w => w.close()))
})

async function start(overrides: Partial<WorkerOptions> = {}): Promise<Running> {
  const worker = createWorker({
    group: 'g1',
    contract: 2,
    slots: 2,
    authKey: AUTH,
    lbAuthKey: LB,
    functions,
    tags: { region: 'eu' },
    statsEndpoint: true,
    ...overrides,
  })
  started.push(worker)
  const { port, wsPort } = await worker.listen({ port: 0, wsPort: 0 })
  return { worker, base: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${wsPort}`, wsPort }
}

const taskHeaders = { authorization: AUTH, 'x-lb-auth': LB, 'content-type': 'application/json' }

function postTask(base: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${base}/task`, { method: 'POST', headers: taskHeaders, body: JSON.stringify(body), ...init })
}

async function json(res: Response | Promise<Response>): Promise<{ status: number; body: unknown }> {
  const r = await res
  return { status: r.status, body: await r.json() }
}

async function health(base: string): Promise<{ slots: { used: number; available: number; limit: number; queue: number } }> {
  return (await fetch(`${base}/health`, { headers: { 'x-lb-auth': LB } })).json() as never
}

async function until(check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await delay(20)
  }
}

/** Opens a WebSocket and collects its messages and close event. */
function connect(url: string, protocol?: string) {
  const ws = protocol === undefined ? new WebSocket(url) : new WebSocket(url, protocol)
  sockets.push(ws)
  const messages: Record<string, unknown>[] = []
  const closed = new Promise<{ code: number; reason: string }>(resolve =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )
  ws.on('message', data => messages.push(JSON.parse(data.toString()) as Record<string, unknown>))
  ws.on('error', () => {})
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return { ws, messages, closed, opened }
}

describe('GET /health', () => {
  it('answers the short public form without a valid key', async () => {
    const { base } = await start()
    expect(await json(fetch(`${base}/health`))).toEqual({ status: 200, body: { status: 'ready' } })
    expect(await json(fetch(`${base}/health`, { headers: { authorization: 'wrong' } }))).toEqual({ status: 200, body: { status: 'ready' } })
  })

  it('answers the full document with either key, Bearer stripped, and the real websocket port', async () => {
    const { base, wsPort } = await start()
    for (const headers of [{ 'x-lb-auth': LB }, { authorization: `Bearer ${AUTH}` }, { authorization: LB }] as Record<string, string>[]) {
      const { status, body } = await json(fetch(`${base}/health`, { headers }))
      expect(status).toBe(200)
      expect(body).toMatchObject({
        status: 'ready',
        group: 'g1',
        contract: 2,
        websocketPort: wsPort,
        services: [],
        tags: { region: 'eu' },
        slots: { used: 0, available: 2, limit: 2, queue: 0 },
        system: { uptime: expect.any(Number), usedMemoryPercent: expect.any(Number), cpuLoad: expect.any(Number) },
      })
      expect((body as { functions: unknown[] }).functions[0]).toEqual({
        name: 'hello',
        params: { name: { type: 'string', required: false, default: 'World' } },
      })
    }
  })

  it('reports services from the probe', async () => {
    const { base } = await start({ services: () => [{ name: 'db', status: 'unknown', state: 'down' }] })
    expect((await health(base)) as unknown).toMatchObject({ services: [{ name: 'db', status: 'unknown', state: 'down' }] })
  })
})

describe('auth', () => {
  it('answers 401 on bad keys for /task, /on, /off and /logs', async () => {
    const { base } = await start()
    const body = JSON.stringify({ function: 'hello', contract: 2 })
    const cases: Record<string, string>[] = [
      {},
      { authorization: 'wrong' },
      { authorization: AUTH, 'x-lb-auth': 'wrong' },
      { authorization: 'wrong', 'x-lb-auth': LB },
      { 'x-lb-auth': LB },
    ]
    for (const headers of cases) {
      expect(await json(fetch(`${base}/task`, { method: 'POST', headers, body }))).toEqual({ status: 401, body: { error: 'Unauthorized' } })
      expect((await fetch(`${base}/off`, { method: 'POST', headers })).status).toBe(401)
    }
    expect(await json(fetch(`${base}/logs`))).toEqual({ status: 401, body: { error: 'Unauthorized' } })
  })

  it('accepts AUTH_KEY alone (Bearer too) when x-lb-auth is absent', async () => {
    const { base } = await start()
    const res = await fetch(`${base}/task`, {
      method: 'POST',
      headers: { authorization: `Bearer ${AUTH}` },
      body: JSON.stringify({ function: 'hello', contract: 2 }),
    })
    expect(await json(res)).toEqual({ status: 200, body: { success: true, result: { message: 'Hello World!' } } })
  })

  it('serves /logs with either key and never logs keys', async () => {
    const { base } = await start()
    await postTask(base, { function: 'hello', contract: 2 })
    for (const headers of [{ authorization: AUTH }, { 'x-lb-auth': `Bearer ${LB}` }] as Record<string, string>[]) {
      const { status, body } = await json(fetch(`${base}/logs`, { headers }))
      expect(status).toBe(200)
      const lines = (body as { logs: string[] }).logs
      expect(lines.some(l => /^\[\d{4}-.+Z\] task hello priority 1 mode sync$/.test(l))).toBe(true)
      expect(lines.join('\n')).not.toContain(AUTH)
      expect(lines.join('\n')).not.toContain(LB)
    }
  })
})

describe('POST /task', () => {
  it('answers sync hello exactly like the engine', async () => {
    const { base } = await start()
    const res = await postTask(base, { function: 'hello', input: { name: 'Andera' }, contract: 2, group: 'ignored' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json')
    expect(await res.text()).toBe('{"success":true,"result":{"message":"Hello Andera!"}}')
  })

  it('answers the 400 and 404 cases in the engine order', async () => {
    const { base } = await start()
    const cases: [unknown, number, string][] = [
      [{ function: 'hello', contract: 2, priority: 0 }, 400, 'Invalid priority: must be between 1 and 2097152'],
      [{ function: 'hello', contract: 2, priority: 'x' }, 400, 'Invalid priority: must be between 1 and 2097152'],
      [{ function: 'hello', contract: 2, priority: 2097153 }, 400, 'Invalid priority: must be between 1 and 2097152'],
      [{ priority: 0 }, 400, 'Invalid priority: must be between 1 and 2097152'],
      [{ contract: 2 }, 400, 'Missing or invalid function name'],
      [{ function: 7, contract: 2 }, 400, 'Missing or invalid function name'],
      [null, 400, 'Missing or invalid function name'],
      [{ function: 'hello' }, 400, 'Missing or invalid contract'],
      [{ function: 'hello', contract: '2' }, 400, 'Missing or invalid contract'],
      [{ function: 'nope' }, 400, 'Missing or invalid contract'],
      [{ function: 'hello', contract: 3 }, 400, 'Contract version mismatch: requested 3, worker is 2'],
      [{ function: 'hello', contract: 2, input: 'x' }, 400, 'Invalid input: must be an object'],
      [{ function: 'hello', contract: 2, input: null }, 400, 'Invalid input: must be an object'],
      [{ function: 'hello', contract: 2, mode: 'later' }, 400, 'Invalid mode'],
      [{ function: 'nope', contract: 2, mode: 'later' }, 400, 'Invalid mode'],
      [{ function: 'nope', contract: 2 }, 404, "Function 'nope' not found"],
      [{ function: 'toString', contract: 2 }, 404, "Function 'toString' not found"],
      [{ function: 'sleep', contract: 2, mode: 'stream' }, 400, "Function 'sleep' does not support streaming"],
      [{ function: 'hello', contract: 2, mode: 'webhook' }, 400, 'Missing or invalid webhook.url for mode webhook'],
      [{ function: 'hello', contract: 2, mode: 'webhook', webhook: { url: 5 } }, 400, 'Missing or invalid webhook.url for mode webhook'],
    ]
    for (const [body, status, error] of cases) {
      expect({ sent: body, ...(await json(postTask(base, body))) }).toEqual({ sent: body, status, body: { error } })
    }
    const bad = await fetch(`${base}/task`, { method: 'POST', headers: taskHeaders, body: '{nope' })
    expect(await json(bad)).toEqual({ status: 400, body: { error: 'Invalid JSON body' } })
  })

  it('answers bad params as 500 with the engine messages', async () => {
    const { base } = await start()
    const cases: [string, unknown, string][] = [
      ['sleep', {}, 'Missing required param: ms'],
      ['sleep', { ms: 1, y: 2 }, 'Unexpected param: y'],
      ['sleep', { ms: '1' }, 'Invalid type for param: ms, expected number'],
      ['sleep', { ms: -1 }, 'Value for param: ms must be >= 0'],
      ['sleep', { ms: 600001 }, 'Value for param: ms must be <= 600000'],
      ['pick', { color: 'green' }, 'Invalid value for param: color, expected one of "red", "blue"'],
      ['pick', { color: 'red', code: 'ABC' }, 'Invalid value for param: code, must match pattern ^[a-z]+$'],
    ]
    for (const [fn, input, error] of cases) {
      expect(await json(postTask(base, { function: fn, input, contract: 2 }))).toEqual({ status: 500, body: { success: false, error } })
    }
    expect(await json(postTask(base, { function: 'pick', input: { color: 'red', code: 'abc' }, contract: 2 }))).toEqual({
      status: 200,
      body: { success: true, result: { color: 'red', code: 'abc' } },
    })
  })

  it('answers a throwing function as 500', async () => {
    const { base } = await start()
    expect(await json(postTask(base, { function: 'fail', input: { message: 'boom' }, contract: 2 }))).toEqual({
      status: 500,
      body: { success: false, error: 'boom' },
    })
  })

  it('streams text/plain chunks as the function writes them', async () => {
    const { base } = await start()
    const res = await postTask(base, { function: 'hello', input: { name: 'Andera' }, contract: 2, mode: 'stream' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/plain')
    expect(await res.text()).toBe('Hello Andera!')

    const chunked = await postTask(base, { function: 'chunks', contract: 2, mode: 'stream' })
    const reader = chunked.body!.getReader()
    const first = await reader.read()
    expect(new TextDecoder().decode(first.value)).toBe('one,')
    let rest = ''
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value)
    expect(rest).toBe('two')
    // In sync mode the streaming function returns its result instead.
    expect(await json(postTask(base, { function: 'hello', contract: 2, mode: 'sync' }))).toEqual({
      status: 200,
      body: { success: true, result: { message: 'Hello World!' } },
    })
  })

  it('answers 500 JSON when a streaming function fails before its first chunk', async () => {
    const { base } = await start()
    expect(await json(postTask(base, { function: 'streamFail', contract: 2, mode: 'stream' }))).toEqual({
      status: 500,
      body: { success: false, error: 'no stream today' },
    })
  })

  it('POSTs the raw result to the webhook', async () => {
    const received: { body: string; headers: http.IncomingHttpHeaders }[] = []
    let answer = 200
    const hook = http.createServer((req, res) => {
      let body = ''
      req.on('data', c => (body += c))
      req.on('end', () => {
        received.push({ body, headers: req.headers })
        res.writeHead(answer)
        res.end()
      })
    })
    await new Promise<void>(r => hook.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`
      const { base } = await start()
      const webhook = { url, headers: { 'x-secret': 's1' } }
      expect(await json(postTask(base, { function: 'hello', input: { name: 'W' }, contract: 2, mode: 'webhook', webhook }))).toEqual({
        status: 200,
        body: { success: true, message: 'Sent to webhook' },
      })
      expect(received[0]?.body).toBe('{"message":"Hello W!"}')
      expect(received[0]?.headers['x-secret']).toBe('s1')
      expect(received[0]?.headers['content-type']).toBe('application/json')
      answer = 502
      expect(await json(postTask(base, { function: 'hello', contract: 2, mode: 'webhook', webhook }))).toEqual({
        status: 500,
        body: { success: false, error: 'Failed to send webhook: 502' },
      })
    } finally {
      hook.closeAllConnections()
      await new Promise(r => hook.close(r))
    }
  })

  it('refuses bodies over 1 MiB with 413 JSON', async () => {
    const { base } = await start()
    const res = await fetch(`${base}/task`, { method: 'POST', headers: taskHeaders, body: 'x'.repeat(1024 * 1024 + 1) })
    expect(await json(res)).toEqual({ status: 413, body: { error: 'Request body too large' } })
  })

  it('answers unknown routes with 404 JSON', async () => {
    const { base } = await start()
    expect(await json(fetch(`${base}/nope`))).toEqual({ status: 404, body: { error: 'Not found' } })
    expect(await json(fetch(`${base}/task`))).toEqual({ status: 404, body: { error: 'Not found' } })
  })
})

describe('maintenance', () => {
  it('/off turns maintenance on (503), /on turns it off', async () => {
    const { base, worker } = await start()
    expect(await json(fetch(`${base}/off`, { method: 'POST', headers: { authorization: AUTH } }))).toEqual({
      status: 200,
      body: { status: 'maintenance' },
    })
    expect(await json(postTask(base, { function: 'hello', contract: 2 }))).toEqual({
      status: 503,
      body: { error: 'Worker is in maintenance mode' },
    })
    expect(await json(fetch(`${base}/health`))).toEqual({ status: 200, body: { status: 'maintenance' } })
    expect((await health(base)).slots.available).toBe(0)
    expect(worker.maintenance).toBe(true)
    expect(await json(fetch(`${base}/on`, { method: 'POST', headers: { authorization: AUTH, 'x-lb-auth': LB } }))).toEqual({
      status: 200,
      body: { status: 'ready' },
    })
    expect((await postTask(base, { function: 'hello', contract: 2 })).status).toBe(200)
    worker.setMaintenance(true)
    expect((await postTask(base, { function: 'hello', contract: 2 })).status).toBe(503)
  })
})

describe('slots', () => {
  it('runs at most `slots` tasks and queues the rest in priority order, FIFO within a priority', async () => {
    const { base } = await start({ slots: 2 })
    const sleep = (tag: string, ms: number, priority: number) =>
      json(postTask(base, { function: 'sleep', input: { ms, tag }, contract: 2, priority }))
    const all = [sleep('a', 300, 5), sleep('b', 300, 5)]
    await until(async () => (await health(base)).slots.used === 2)
    all.push(sleep('c', 10, 3))
    await until(async () => (await health(base)).slots.queue === 1)
    all.push(sleep('d', 10, 1))
    await until(async () => (await health(base)).slots.queue === 2)
    all.push(sleep('e', 10, 1))
    await until(async () => (await health(base)).slots.queue === 3)
    expect((await health(base)).slots).toEqual({ used: 2, available: 0, limit: 2, queue: 3 })
    const results = await Promise.all(all)
    expect(results.map(r => r.status)).toEqual([200, 200, 200, 200, 200])
    expect(results[2]).toEqual({ status: 200, body: { success: true, result: { slept: 10, tag: 'c' } } })
    const stats = (await (await fetch(`${base}/stats`)).json()) as Record<string, unknown>
    expect(stats).toMatchObject({ maxUsed: 2, maxQueued: 3, received: 5, used: 0, queued: 0 })
    expect((stats.started as { tag: unknown }[]).map(s => s.tag).slice(2)).toEqual(['d', 'e', 'c'])
    expect((stats.started as unknown[])[2]).toEqual({ function: 'sleep', tag: 'd', priority: 1 })
  })

  it('drops a queued task whose client went away, and aborts a running one', async () => {
    const { base } = await start({ slots: 1 })
    const running = new AbortController()
    const first = postTask(base, { function: 'sleep', input: { ms: 60000 }, contract: 2 }, { signal: running.signal }).catch(() => 'aborted')
    await until(async () => (await health(base)).slots.used === 1)
    const queued = new AbortController()
    const second = postTask(base, { function: 'sleep', input: { ms: 1 }, contract: 2 }, { signal: queued.signal }).catch(() => 'aborted')
    await until(async () => (await health(base)).slots.queue === 1)
    queued.abort()
    expect(await second).toBe('aborted')
    await until(async () => (await health(base)).slots.queue === 0)
    expect((await health(base)).slots.used).toBe(1)
    running.abort()
    expect(await first).toBe('aborted')
    // The sleep honours ctx.signal, so the slot frees now rather than in a minute.
    await until(async () => (await health(base)).slots.used === 0)
    const stats = (await (await fetch(`${base}/stats`)).json()) as { started: unknown[]; received: number }
    expect(stats.received).toBe(2)
    expect(stats.started).toHaveLength(1)
  })
})

describe('WebSocket slot stream', () => {
  it('closes with 4001 on a wrong or missing subprotocol', async () => {
    const { wsUrl } = await start()
    expect(await connect(wsUrl, 'wrong-key').closed).toEqual({ code: 4001, reason: 'Unauthorized' })
    expect(await connect(wsUrl).closed).toEqual({ code: 4001, reason: 'Unauthorized' })
  })

  it('selects the LB key as subprotocol and pushes on every slot change', async () => {
    const { wsUrl, base } = await start()
    const c = connect(wsUrl, LB)
    await c.opened
    expect(c.ws.protocol).toBe(LB)
    await until(async () => c.messages.length >= 1)
    expect(c.messages[0]).toMatchObject({
      status: 'ready',
      slots: { used: 0, available: 2, limit: 2, queue: 0 },
      system: { uptime: expect.any(Number), cpuLoad: expect.any(Number), usedMemoryPercent: expect.any(Number) },
      services: [],
    })
    const before = c.messages.length
    await postTask(base, { function: 'sleep', input: { ms: 50 }, contract: 2 })
    // The release push travels on another socket than the answer: wait for it.
    await until(async () => (c.messages.at(-1)?.slots as { used: number }).used === 0)
    const pushed = c.messages.slice(before).map(m => m.slots)
    expect(pushed).toContainEqual({ used: 1, available: 1, limit: 2, queue: 0 })
    expect(pushed.at(-1)).toEqual({ used: 0, available: 2, limit: 2, queue: 0 })

    const n = c.messages.length
    await fetch(`${base}/off`, { method: 'POST', headers: { authorization: AUTH } })
    await until(async () => c.messages.length > n)
    expect(c.messages.at(-1)).toMatchObject({ status: 'maintenance', slots: { available: 0 } })
  })

  it('pushes about once a second without changes', async () => {
    const { wsUrl } = await start()
    const c = connect(wsUrl, LB)
    await c.opened
    await delay(1150)
    expect(c.messages.length).toBeGreaterThanOrEqual(2)
  })

  it('answers the text message ping with {status, slots}', async () => {
    const { wsUrl } = await start()
    const c = connect(wsUrl, LB)
    await c.opened
    await until(async () => c.messages.length >= 1)
    const n = c.messages.length
    c.ws.send('ping')
    await until(async () => c.messages.slice(n).some(m => !('system' in m)))
    expect(c.messages.slice(n).find(m => !('system' in m))).toEqual({
      status: 'ready',
      slots: { used: 0, available: 2, limit: 2, queue: 0 },
    })
  })
})

describe('lifecycle', () => {
  it('close() ends sockets and servers', async () => {
    const { worker, base, wsUrl } = await start()
    const c = connect(wsUrl, LB)
    await c.opened
    await worker.close()
    expect((await c.closed).code).toBe(1001)
    await expect(fetch(`${base}/health`)).rejects.toThrow()
  })

  it('rejects invalid options at creation', () => {
    expect(() =>
      createWorker({ group: 'g', contract: 1, slots: 0, authKey: 'a', lbAuthKey: 'b', functions: {} }),
    ).toThrow(/Invalid worker options/)
    expect(() =>
      createWorker({
        group: 'g', contract: 1, slots: 1, authKey: 'a', lbAuthKey: 'b',
        functions: { f: { params: { x: { type: 'number', default: 'no' } }, run: async () => null } },
      }),
    ).toThrow(/default breaks its own rule/)
  })
})
