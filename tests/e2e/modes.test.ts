import { createServer, type IncomingMessage, type Server } from 'node:http'
import { createHmac, randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, callGateway, submitTask } from './harness/cluster.js'
import { workerKinds } from './harness/paths.js'
import { freePort } from './harness/ports.js'
import { getTask, waitForStats, waitForTask } from './harness/tasks.js'
import { TestWorker } from './harness/test-worker.js'

const LB_KEY = 'lb-key-for-tests-0123456789'
const WEBHOOK_SECRET = 'webhook-secret-for-tests'

/** A webhook receiver in the test process: records each delivery, answers as told. */
class Receiver {
  readonly deliveries: { headers: IncomingMessage['headers']; body: string }[] = []
  private waiters: (() => void)[] = []
  answer: (delivery: number) => Promise<number> = async () => 200
  private constructor(readonly server: Server, readonly url: string) {}

  static async start(): Promise<Receiver> {
    const port = await freePort()
    const receiver: Receiver = new Receiver(
      createServer((req, res) => {
        const chunks: Buffer[] = []
        req.on('data', chunk => chunks.push(chunk))
        req.on('end', async () => {
          receiver.deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString() })
          receiver.waiters.splice(0).forEach(wake => wake())
          res.writeHead(await receiver.answer(receiver.deliveries.length)).end()
        })
      }),
      `http://127.0.0.1:${port}/hook`,
    )
    await new Promise<void>(resolve => receiver.server.listen(port, '127.0.0.1', resolve))
    return receiver
  }

  async delivery(n: number): Promise<{ headers: IncomingMessage['headers']; body: string }> {
    while (this.deliveries.length < n) await new Promise<void>(resolve => this.waiters.push(resolve))
    return this.deliveries[n - 1]!
  }
}

describe.each(workerKinds())('task modes, against the %s Worker', kind => {
  let cluster: Cluster
  let worker: TestWorker
  const keys = () => ({ lb: LB_KEY, worker: worker.authKey })

  beforeAll(async () => {
    worker = await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 1 })
    cluster = await Cluster.start({
      lbAuthKey: LB_KEY,
      workerUrls: [worker.url],
      env: { TASK_TIMEOUT: '1500', TASK_ATTEMPTS: '2', WEBHOOK_SECRET, WEBHOOK_BACKOFF: '50' },
    })
    await cluster.waitForWorkers([worker.url])
  })
  afterAll(async () => {
    await cluster?.stop()
    await worker?.stop()
  })

  /** Occupies the Worker's only slot; `done` settles when it is free again. */
  async function occupySlot(ms: number): Promise<{ done: Promise<unknown> }> {
    const before = await worker.stats()
    const blocker = submitTask(cluster.gatewayUrl, { function: 'sleep', contract: 1, input: { ms, tag: 'blocker' }, mode: 'async' }, keys())
    const { taskId } = (await blocker).json() as { taskId: string }
    await waitForStats(() => worker.stats(), stats => stats.received > before.received && stats.used === 1)
    return { done: waitForTask(cluster.gatewayUrl, taskId, LB_KEY) }
  }

  it('async: answers 202 at once, then GET /task/:id tells the whole story', async () => {
    const response = await submitTask(cluster.gatewayUrl, { function: 'hello', contract: 1, priority: 7, input: { name: 'Async' }, mode: 'async' }, keys())
    expect(response.status).toBe(202)
    const { taskId, status } = response.json() as { taskId: string; status: string }
    expect(status).toBe('queued')
    const task = await waitForTask(cluster.gatewayUrl, taskId, LB_KEY)
    expect(task).toMatchObject({
      taskId, status: 'completed', group: 'default', function: 'hello', contract: 1, priority: 7, attempts: 1,
      worker: worker.url, result: { message: 'Hello Async!' },
    })
    for (const field of ['createdAt', 'startedAt', 'finishedAt']) expect(Date.parse(task[field] as string)).toBeGreaterThan(0)
  })

  it('async: a failing task ends failed with its cause after every attempt', async () => {
    const response = await submitTask(cluster.gatewayUrl, { function: 'fail', contract: 1, input: { message: 'boom' }, mode: 'async' }, keys())
    const { taskId } = response.json() as { taskId: string }
    const task = await waitForTask(cluster.gatewayUrl, taskId, LB_KEY)
    expect(task.status).toBe('failed')
    expect(task.error).toBe('all attempts failed: boom')
    expect(task.attempts).toBe(2)
  })

  it('DELETE /task/:id cancels a task that has not started, and it never runs', async () => {
    const blocker = await occupySlot(800)
    const tag = `cancel-me-${randomUUID()}`
    const queued = await submitTask(cluster.gatewayUrl, { function: 'sleep', contract: 1, input: { ms: 1, tag }, mode: 'async' }, keys())
    const { taskId } = queued.json() as { taskId: string }
    const cancelled = await callGateway(cluster.gatewayUrl, 'DELETE', `/task/${taskId}`, LB_KEY)
    expect(cancelled.status).toBe(200)
    expect(cancelled.json()).toEqual({ taskId, status: 'cancelled' })
    expect((await getTask(cluster.gatewayUrl, taskId, LB_KEY)).status).toBe('cancelled')
    await blocker.done
    // Run one more task behind it: had the cancelled one been queued still, it would have started first.
    const after = await submitTask(cluster.gatewayUrl, { function: 'sleep', contract: 1, input: { ms: 1, tag: 'after' } }, keys())
    expect(after.status).toBe(200)
    expect((await worker.stats()).started.map(s => s.tag)).not.toContain(tag)
  })

  it('DELETE /task/:id refuses a finished task, an unknown one and a malformed id', async () => {
    const done = await submitTask(cluster.gatewayUrl, { function: 'hello', contract: 1, mode: 'async' }, keys())
    const { taskId } = done.json() as { taskId: string }
    await waitForTask(cluster.gatewayUrl, taskId, LB_KEY)
    expect((await callGateway(cluster.gatewayUrl, 'DELETE', `/task/${taskId}`, LB_KEY)).status).toBe(409)
    expect((await callGateway(cluster.gatewayUrl, 'DELETE', `/task/${randomUUID()}`, LB_KEY)).status).toBe(404)
    expect((await callGateway(cluster.gatewayUrl, 'GET', '/task/not-a-task-id', LB_KEY)).status).toBe(400)
  })

  it('sync: answers 504 naming the timeout, and takes back a task that never started', async () => {
    // Two tasks ahead of it, each shorter than one Worker call may take (the same TASK_TIMEOUT).
    const blocker = await occupySlot(1000)
    const second = await submitTask(cluster.gatewayUrl, { function: 'sleep', contract: 1, priority: 1, input: { ms: 1000 }, mode: 'async' }, keys())
    const tag = `too-late-${randomUUID()}`
    const response = await submitTask(cluster.gatewayUrl, { function: 'sleep', contract: 1, input: { ms: 1, tag } }, keys())
    expect(response.status).toBe(504)
    const body = response.json() as { error: string; taskId: string; cancelled: boolean }
    expect(body.error).toBe('timed out after 1500 ms')
    expect(body.cancelled).toBe(true)
    expect((await getTask(cluster.gatewayUrl, body.taskId, LB_KEY)).status).toBe('cancelled')
    await blocker.done
    await waitForTask(cluster.gatewayUrl, (second.json() as { taskId: string }).taskId, LB_KEY)
    const after = await submitTask(cluster.gatewayUrl, { function: 'hello', contract: 1 }, keys())
    expect(after.status).toBe(200)
    expect((await worker.stats()).started.map(s => s.tag)).not.toContain(tag)
  })

  it('sync: a task that outlives its client is stopped and not retried', async () => {
    const response = await submitTask(cluster.gatewayUrl, { function: 'sleep', contract: 1, input: { ms: 2500, tag: 'outlived' } }, keys())
    expect(response.status).toBe(504)
    // Run by the gateway itself (the direct path) the task never entered the queue, so it has no id to read;
    // through the queue it has one, and must have failed after its one attempt.
    const { taskId } = response.json() as { taskId?: string }
    if (taskId) {
      const task = await waitForTask(cluster.gatewayUrl, taskId, LB_KEY)
      expect(task.status).toBe('failed')
      expect(task.attempts).toBe(1)
    }
    // The Worker's slot is still taken by the abandoned call for a while; wait for it before the next test.
    await waitForStats(() => worker.stats(), stats => stats.used === 0)
    expect((await worker.stats()).started.filter(s => s.tag === 'outlived')).toHaveLength(1)
  })

  it('stream: passes the Worker’s chunked text through', async () => {
    const response = await fetch(`${cluster.gatewayUrl}/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: LB_KEY, 'x-wr-auth': worker.authKey },
      body: JSON.stringify({ function: 'hello', contract: 1, input: { name: 'Stream' }, mode: 'stream' }),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await response.text()).toBe('Hello Stream!')
  })

  it('webhook: delivers the bare result, signed, with the task id and the client’s headers', async () => {
    const receiver = await Receiver.start()
    try {
      const response = await submitTask(cluster.gatewayUrl, {
        function: 'hello', contract: 1, input: { name: 'Hook' }, mode: 'webhook',
        webhook: { url: receiver.url, headers: { 'x-receiver-token': 'abc' } },
      }, keys())
      expect(response.status).toBe(202)
      const { success, taskId } = response.json() as { success: boolean; taskId: string }
      expect(success).toBe(true)
      const delivery = await receiver.delivery(1)
      expect(delivery.body).toBe('{"message":"Hello Hook!"}')
      expect(delivery.headers['x-receiver-token']).toBe('abc')
      expect(delivery.headers['x-slotway-task-id']).toBe(taskId)
      expect(delivery.headers['x-slotway-signature']).toBe(`sha256=${createHmac('sha256', WEBHOOK_SECRET).update(delivery.body).digest('hex')}`)
      const task = await waitForTask(cluster.gatewayUrl, taskId, LB_KEY, t => t.webhook?.state === 'delivered')
      expect(task).toMatchObject({ status: 'completed', result: { message: 'Hello Hook!' }, webhook: { state: 'delivered', attempts: 1 } })
    } finally {
      receiver.server.close()
    }
  })

  it('webhook: retries a failed delivery, and frees the slot before delivering', async () => {
    const receiver = await Receiver.start()
    let release!: () => void
    const held = new Promise<void>(resolve => (release = resolve))
    // The first delivery is held open until a sync task has run on the Worker's only slot, then refused.
    receiver.answer = async n => (n === 1 ? (await held, 500) : 200)
    try {
      const response = await submitTask(cluster.gatewayUrl, { function: 'hello', contract: 1, mode: 'webhook', webhook: { url: receiver.url } }, keys())
      const { taskId } = response.json() as { taskId: string }
      await receiver.delivery(1)
      const sync = await submitTask(cluster.gatewayUrl, { function: 'hello', contract: 1, input: { name: 'Meanwhile' } }, keys())
      expect(sync.status).toBe(200)
      release()
      await receiver.delivery(2)
      const task = await waitForTask(cluster.gatewayUrl, taskId, LB_KEY, t => t.webhook?.state === 'delivered')
      expect(task.webhook?.attempts).toBe(2)
    } finally {
      release()
      receiver.server.close()
    }
  })

  it('webhook: refuses a URL that is not http(s)', async () => {
    for (const url of ['ftp://example.test/x', 'file:///etc/passwd', 'not a url']) {
      const response = await submitTask(cluster.gatewayUrl, { function: 'hello', contract: 1, mode: 'webhook', webhook: { url } }, keys())
      expect(response.status).toBe(400)
      expect((response.json() as { error: string }).error).toContain('webhook.url')
    }
  })

  it('Idempotency-Key: two requests at once with one key share one run and both get the answer', async () => {
    const key = randomUUID()
    const before = (await worker.stats()).received
    const submit = () =>
      fetch(`${cluster.gatewayUrl}/task`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: LB_KEY, 'x-wr-auth': worker.authKey, 'idempotency-key': key },
        body: JSON.stringify({ function: 'sleep', contract: 1, input: { ms: 300, tag: key } }),
      }).then(async r => [r.status, await r.text()] as const)
    const [first, second] = await Promise.all([submit(), submit()])
    const expected = [200, JSON.stringify({ success: true, result: { slept: 300, tag: key } })]
    expect(first).toEqual(expected)
    expect(second).toEqual(expected)
    expect((await worker.stats()).received - before).toBe(1)
  })

  it('Idempotency-Key: a retried submission returns the same task and runs it once', async () => {
    const key = randomUUID()
    const before = (await worker.stats()).received
    const submit = (mode: string) =>
      fetch(`${cluster.gatewayUrl}/task`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: LB_KEY, 'x-wr-auth': worker.authKey, 'idempotency-key': key },
        body: JSON.stringify({ function: 'hello', contract: 1, input: { name: 'Once' }, mode }),
      })
    const first = await submit('sync')
    const second = await submit('sync')
    expect(await first.text()).toBe('{"success":true,"result":{"message":"Hello Once!"}}')
    expect(await second.text()).toBe('{"success":true,"result":{"message":"Hello Once!"}}')
    const asyncKey = randomUUID()
    const one = await submitTask(cluster.gatewayUrl, { function: 'hello', contract: 1, mode: 'async' }, keys())
    expect(one.status).toBe(202)
    const again = await fetch(`${cluster.gatewayUrl}/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: LB_KEY, 'x-wr-auth': worker.authKey, 'idempotency-key': asyncKey },
      body: JSON.stringify({ function: 'hello', contract: 1, mode: 'async' }),
    })
    const againTwice = await fetch(`${cluster.gatewayUrl}/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: LB_KEY, 'x-wr-auth': worker.authKey, 'idempotency-key': asyncKey },
      body: JSON.stringify({ function: 'hello', contract: 1, mode: 'async' }),
    })
    const [a, b] = [(await again.json()) as { taskId: string }, (await againTwice.json()) as { taskId: string; duplicate: boolean }]
    expect(b.taskId).toBe(a.taskId)
    expect(b.duplicate).toBe(true)
    await waitForTask(cluster.gatewayUrl, a.taskId, LB_KEY)
    await waitForTask(cluster.gatewayUrl, (one.json() as { taskId: string }).taskId, LB_KEY)
    // The sync pair ran once, the keyed async pair once, the unkeyed async task once.
    expect((await worker.stats()).received - before).toBe(3)
  })
})
