import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, submitTask } from './harness/cluster.js'
import { serviceEntry, workerKinds } from './harness/paths.js'
import { freePort } from './harness/ports.js'
import { ServiceProcess } from './harness/process.js'
import { getTask, waitForStats, waitForTask } from './harness/tasks.js'
import { TestWorker } from './harness/test-worker.js'

const LB_KEY = 'lb-key-for-tests-0123456789'

describe.each(workerKinds())('retries, against the %s Worker', kind => {
  let cluster: Cluster
  const workers: TestWorker[] = []

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) workers.push(await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 2 }))
    cluster = await Cluster.start({ lbAuthKey: LB_KEY, workerUrls: workers.map(w => w.url), env: { TASK_ATTEMPTS: '2' } })
    await cluster.waitForWorkers(workers.map(w => w.url))
  })
  afterAll(async () => {
    await cluster?.stop()
    await Promise.all(workers.map(w => w.stop()))
  })

  it('retries a Worker 5xx on another Worker, then names the last cause', async () => {
    const before = await Promise.all(workers.map(w => w.stats()))
    const response = await submitTask(cluster.gatewayUrl, { function: 'fail', contract: 1, input: { message: 'broken' } }, { lb: LB_KEY, worker: workers[0]!.authKey })
    expect(response.status).toBe(500)
    expect(response.json()).toMatchObject({ success: false, error: 'all attempts failed: broken', attempts: 2 })
    const after = await Promise.all(workers.map(w => w.stats()))
    // One attempt on each Worker: the retry went elsewhere.
    expect(after.map((s, i) => s.received - before[i]!.received)).toEqual([1, 1])
  })

  it('fails at once a task whose Worker key it cannot read (queued under another LB key), instead of retrying it forever', async () => {
    const port = await freePort()
    const stranger = ServiceProcess.start('gateway-other-key', [serviceEntry('gateway')], { ...cluster.env, LB_AUTH_KEY: 'another-lb-key-0123456789', PORT: String(port), HOST: '127.0.0.1' })
    try {
      await stranger.waitForLine(/gateway ready/)
      const queued = await submitTask(`http://127.0.0.1:${port}`, { function: 'hello', contract: 1, mode: 'async' }, { lb: 'another-lb-key-0123456789', worker: workers[0]!.authKey })
      expect(queued.status).toBe(202)
      const { taskId } = queued.json() as { taskId: string }
      const task = await waitForTask(cluster.gatewayUrl, taskId, LB_KEY)
      expect(task.status).toBe('failed')
      expect(task.error).toContain('cannot be read')
    } finally {
      await stranger.stop()
    }
  })
})

describe.each(workerKinds())('replicas dying and stopping, against the %s Worker', kind => {
  let cluster: Cluster
  let worker: TestWorker

  beforeAll(async () => {
    worker = await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 4 })
    // Short locks and leases, so a killed dispatcher's work comes back within the test's time.
    cluster = await Cluster.start({
      lbAuthKey: LB_KEY,
      workerUrls: [worker.url],
      dispatchers: 2,
      env: { JOB_LOCK_DURATION: '2000', SLOT_LEASE: '3000', TASK_ATTEMPTS: '3' },
    })
    await cluster.waitForWorkers([worker.url])
  })
  afterAll(async () => {
    await cluster?.stop()
    await worker?.stop()
  })

  it('kill -9 of a dispatcher mid-task: every sync client still gets its own answer', async () => {
    const tags = Array.from({ length: 8 }, (_, i) => `k${i}`)
    const pending = tags.map(tag => submitTask(cluster.gatewayUrl, { function: 'sleep', contract: 1, input: { ms: 700, tag } }, { lb: LB_KEY, worker: worker.authKey }))
    await waitForStats(() => worker.stats(), stats => stats.used >= 2)
    const victim = cluster.dispatchers[0]!
    victim.child.kill('SIGKILL')
    await victim.exited
    const responses = await Promise.all(pending)
    expect(responses.map(r => r.status)).toEqual(Array(8).fill(200))
    expect(responses.map(r => (r.json() as { result: { tag: string } }).result.tag)).toEqual(tags)
    // At least once: some tasks may have started twice, but no Worker ever ran more than its slots.
    expect((await worker.stats()).maxUsed).toBeLessThanOrEqual(4)
    // Replace the victim for the next test.
    await (await cluster.addDispatcher()).waitForLine(/dispatcher ready/)
  })

  it('SIGTERM: a dispatcher finishes its running task and exits 0', async () => {
    const survivor = cluster.dispatchers.at(-1)!
    const pending = submitTask(cluster.gatewayUrl, { function: 'sleep', contract: 1, input: { ms: 600, tag: 'drain' } }, { lb: LB_KEY, worker: worker.authKey })
    await waitForStats(() => worker.stats(), stats => stats.used >= 1)
    const stopping = [1, 2].map(i => cluster.dispatchers.at(-i)!.stop('SIGTERM'))
    const response = await pending
    expect(response.status).toBe(200)
    expect(await Promise.all(stopping)).toEqual([0, 0])
    expect(survivor.lines.some(line => line.includes('stopping: finishing running tasks'))).toBe(true)
    await (await cluster.addDispatcher()).waitForLine(/dispatcher ready/)
  })

  it('SIGTERM: a gateway answers the request it holds, then exits 0', async () => {
    const gateway = cluster.gateways[0]!
    const pending = submitTask(gateway.url, { function: 'sleep', contract: 1, input: { ms: 600, tag: 'gateway-drain' } }, { lb: LB_KEY, worker: worker.authKey })
    await waitForStats(() => worker.stats(), stats => stats.used >= 1)
    const stopped = gateway.process.stop('SIGTERM')
    const response = await pending
    expect(response.status).toBe(200)
    expect((response.json() as { result: { tag: string } }).result.tag).toBe('gateway-drain')
    expect(await stopped).toBe(0)
  })
})

describe.each(workerKinds())('a dispatcher stopping in a backlog, against the %s Worker', kind => {
  let cluster: Cluster
  let worker: TestWorker

  beforeAll(async () => {
    worker = await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 1 })
    cluster = await Cluster.start({ lbAuthKey: LB_KEY, workerUrls: [worker.url] })
    await cluster.waitForWorkers([worker.url])
  })
  afterAll(async () => {
    await cluster?.stop()
    await worker?.stop()
  })

  it('finishes the task it runs and hands its slot to no other, leaving the rest queued for the next dispatcher', async () => {
    const ids: string[] = []
    for (let i = 0; i < 4; i++) {
      const response = await submitTask(cluster.gatewayUrl, { function: 'sleep', contract: 1, mode: 'async', input: { ms: 300, tag: `q${i}` } }, { lb: LB_KEY, worker: worker.authKey })
      ids.push((response.json() as { taskId: string }).taskId)
    }
    await waitForStats(() => worker.stats(), stats => stats.used >= 1)
    expect(await cluster.dispatchers[0]!.stop('SIGTERM')).toBe(0)
    const states = await Promise.all(ids.map(id => getTask(cluster.gatewayUrl, id, LB_KEY)))
    expect(states[0]!.status).toBe('completed')
    // A completed task may pass its slot on, but not while its dispatcher stops: the others were never taken.
    expect(states.slice(1).map(s => s.status)).toEqual(['queued', 'queued', 'queued'])
    await (await cluster.addDispatcher()).waitForLine(/dispatcher ready/)
    for (const id of ids) expect((await waitForTask(cluster.gatewayUrl, id, LB_KEY)).status).toBe('completed')
  })
})

describe.each(workerKinds())('a gateway stopping with a direct call still running, against the %s Worker', kind => {
  let cluster: Cluster
  let worker: TestWorker

  beforeAll(async () => {
    worker = await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 2 })
    // No dispatcher, so the calls are the gateway's own; a drain shorter than the call, so it is cut off.
    cluster = await Cluster.start({ lbAuthKey: LB_KEY, workerUrls: [worker.url], dispatchers: 0, env: { DRAIN_TIMEOUT: '300' } })
    await cluster.waitForWorkers([worker.url])
  })
  afterAll(async () => {
    await cluster?.stop()
    await worker?.stop()
  })

  it('gives back every slot it held before it exits, the cut-off call\'s too', async () => {
    const gateway = cluster.gateways[0]!
    expect((await submitTask(gateway.url, { function: 'hello', contract: 1 }, { lb: LB_KEY, worker: worker.authKey })).status).toBe(200)
    const cutOff = submitTask(gateway.url, { function: 'sleep', contract: 1, input: { ms: 3000 } }, { lb: LB_KEY, worker: worker.authKey }).catch(() => undefined)
    await waitForStats(() => worker.stats(), stats => stats.used >= 1)
    expect(await gateway.process.stop('SIGTERM')).toBe(0)
    await cutOff
    // A slot left behind would stay taken for a whole SLOT_LEASE.
    expect(await cluster.gatewayReservations()).toEqual([])
  })
})

const haveRedisServer = spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status === 0

/** A Redis of the test's own, with the append-only file on, so a restart keeps the queue. */
async function startRedisServer(port: number, dir: string): Promise<ServiceProcess> {
  const server = new ServiceProcess('redis', spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''], { stdio: ['ignore', 'pipe', 'pipe'] }))
  await server.waitForLine(/Ready to accept connections/)
  return server
}

describe.skipIf(!haveRedisServer)('Redis restarting while tasks are queued', () => {
  let redis: ServiceProcess
  let port: number
  let dir: string
  let cluster: Cluster
  let worker: TestWorker

  beforeAll(async () => {
    port = await freePort()
    dir = mkdtempSync(join(tmpdir(), 'slotway-redis-'))
    redis = await startRedisServer(port, dir)
    worker = await TestWorker.start({ kind: workerKinds()[0]!, lbAuthKey: LB_KEY, slots: 1 })
    cluster = await Cluster.start({ lbAuthKey: LB_KEY, workerUrls: [worker.url], env: { REDIS_URL: `redis://127.0.0.1:${port}` } })
    await cluster.waitForWorkers([worker.url])
  })
  afterAll(async () => {
    await cluster?.stop()
    await worker?.stop()
    await redis?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('services reconnect by themselves and the queued tasks still run', async () => {
    const submit = (input: Record<string, unknown>) =>
      submitTask(cluster.gatewayUrl, { function: 'sleep', contract: 1, input, mode: 'async' }, { lb: LB_KEY, worker: worker.authKey }).then(r => (r.json() as { taskId: string }).taskId)
    const blocker = await submit({ ms: 500, tag: 'blocker' })
    await waitForStats(() => worker.stats(), stats => stats.used === 1)
    const queued = [await submit({ ms: 1, tag: 'q1' }), await submit({ ms: 1, tag: 'q2' })]
    // SHUTDOWN writes the append-only file; a new server on the same port and folder reads it back.
    await cluster.redis.call('SHUTDOWN').catch(() => undefined)
    await redis.exited
    redis = await startRedisServer(port, dir)
    for (const id of [blocker, ...queued]) expect((await waitForTask(cluster.gatewayUrl, id, LB_KEY, undefined, 30_000)).status).toBe('completed')
    expect((await worker.stats()).started.map(s => s.tag)).toEqual(expect.arrayContaining(['q1', 'q2']))
    // And the path for new tasks works again too.
    const fresh = await submitTask(cluster.gatewayUrl, { function: 'hello', contract: 1 }, { lb: LB_KEY, worker: worker.authKey })
    expect(fresh.status).toBe(200)
  })
})
