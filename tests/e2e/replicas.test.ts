import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, submitTask } from './harness/cluster.js'
import { workerKinds } from './harness/paths.js'
import { getTask, waitForStats, waitForTask } from './harness/tasks.js'
import { TestWorker } from './harness/test-worker.js'

const LB_KEY = 'lb-key-for-tests-0123456789'

describe.each(workerKinds())('slots with many replicas, against the %s Worker', kind => {
  let cluster: Cluster
  const workers: TestWorker[] = []

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) workers.push(await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 3 }))
    cluster = await Cluster.start({ lbAuthKey: LB_KEY, workerUrls: workers.map(w => w.url), dispatchers: 2, gateways: 2 })
    await cluster.waitForWorkers(workers.map(w => w.url))
  })
  afterAll(async () => {
    await cluster?.stop()
    await Promise.all(workers.map(w => w.stop()))
  })

  it('never runs more than slots.limit on any Worker, nor queues inside it, under a burst of 10× the slots', async () => {
    const total = 10 * 6
    const burst = Array.from({ length: total }, (_, i) =>
      submitTask(cluster.gateways[i % 2]!.url, { function: 'sleep', contract: 1, input: { ms: 30, tag: `b${i}` } }, { lb: LB_KEY, worker: workers[0]!.authKey }))
    const responses = await Promise.all(burst)
    expect(responses.map(r => r.status)).toEqual(Array(total).fill(200))
    const tags = responses.map(r => (r.json() as { result: { tag: string } }).result.tag)
    expect(new Set(tags).size).toBe(total)
    const stats = await Promise.all(workers.map(w => w.stats()))
    for (const s of stats) {
      expect(s.maxUsed).toBeLessThanOrEqual(3)
      expect(s.maxQueued).toBe(0)
    }
    // Every task ran exactly once, and both Workers took part.
    expect(stats.reduce((sum, s) => sum + s.received, 0)).toBe(total)
    for (const s of stats) expect(s.received).toBeGreaterThan(0)
  })
})

describe.each(workerKinds())('slots a gateway holds for its direct path, against the %s Worker', kind => {
  let cluster: Cluster
  let worker: TestWorker

  beforeAll(async () => {
    worker = await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 1 })
    cluster = await Cluster.start({ lbAuthKey: LB_KEY, workerUrls: [worker.url], gateways: 2 })
    await cluster.waitForWorkers([worker.url])
  })
  afterAll(async () => {
    await cluster?.stop()
    await worker?.stop()
  })

  it('hands the slot it holds to a task that queued at another gateway, at once', async () => {
    const [first, second] = cluster.gateways.map(g => g.url)
    const hello = (gateway: string, name: string) => submitTask(gateway, { function: 'hello', contract: 1, input: { name } }, { lb: LB_KEY, worker: worker.authKey })
    // A steady stream of sync tasks through the first gateway, which keeps the Worker's only slot between them.
    expect((await hello(first!, 'warm')).status).toBe(200)
    let queuedAnswered = false
    let streamedMeanwhile = 0
    const stream = (async () => {
      for (let i = 0; !queuedAnswered && i < 5000; i++) {
        expect((await hello(first!, `s${i}`)).status).toBe(200)
        streamedMeanwhile++
      }
    })()
    const started = streamedMeanwhile
    // The second gateway finds no free slot, so its task queues; the dispatcher, starved, asks for the slot back.
    const queued = await hello(second!, 'queued')
    const afterFirst = streamedMeanwhile
    // Straight after, while the first gateway has just taken the slot back: this one must get it as quickly.
    const again = await hello(second!, 'again')
    queuedAnswered = true
    await stream
    expect(queued.json()).toEqual({ success: true, result: { message: 'Hello queued!' } })
    expect(again.json()).toEqual({ success: true, result: { message: 'Hello again!' } })
    // Held until it lapsed, the slot would have served a hundred or more of the stream's tasks first.
    expect(afterFirst - started).toBeLessThan(20)
    expect(streamedMeanwhile - afterFirst).toBeLessThan(20)
  })

})

describe.each(workerKinds())('the slot of an abandoned direct call, against the %s Worker', kind => {
  let cluster: Cluster
  let worker: TestWorker

  beforeAll(async () => {
    worker = await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 1 })
    // No dispatcher at first: its idle reservation would take the Worker's only slot from the gateway.
    // Slots held far longer than the test takes, so only the rule under test can give this one back.
    cluster = await Cluster.start({ lbAuthKey: LB_KEY, workerUrls: [worker.url], dispatchers: 0, env: { DIRECT_SLOT_HOLD: '60000' } })
    await cluster.waitForWorkers([worker.url])
  })
  afterAll(async () => {
    await cluster?.stop()
    await worker?.stop()
  })

  it('is given back, not held, since the Worker may still be running the call', async () => {
    const gateway = cluster.gatewayUrl
    const heldByGateways = async () => (await cluster.gatewayReservations()).length
    expect((await submitTask(gateway, { function: 'hello', contract: 1 }, { lb: LB_KEY, worker: worker.authKey })).status).toBe(200)
    expect(await heldByGateways()).toBe(1)
    const abandon = new AbortController()
    const call = fetch(`${gateway}/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: LB_KEY, 'x-wr-auth': worker.authKey },
      body: JSON.stringify({ function: 'sleep', contract: 1, input: { ms: 1500 } }),
      signal: abandon.signal,
    }).catch(() => undefined)
    await waitForStats(() => worker.stats(), stats => stats.used >= 1)
    abandon.abort()
    await call
    // Back in the ledger's hands (a held slot would stay): only the Worker's own busy count can say when it is free.
    await waitForStats(heldByGateways, held => held === 0, 5000)
    await (await cluster.addDispatcher()).waitForLine(/dispatcher ready/)
    expect((await submitTask(gateway, { function: 'sleep', contract: 1, input: { ms: 10 } }, { lb: LB_KEY, worker: worker.authKey })).status).toBe(200)
    expect((await worker.stats()).maxQueued).toBe(0)
  })
})

describe.each(workerKinds())('Workers that must get no task, against the %s Worker', kind => {
  let cluster: Cluster
  let worker: TestWorker
  let degraded: TestWorker

  beforeAll(async () => {
    worker = await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 2 })
    degraded = await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 2, group: 'degraded', servicesDown: true })
    cluster = await Cluster.start({ lbAuthKey: LB_KEY, workerUrls: [worker.url, degraded.url] })
    await cluster.waitForWorkers([worker.url])
    await cluster.waitForWorkers([degraded.url], 'degraded')
  })
  afterAll(async () => {
    await cluster?.stop()
    await Promise.all([worker?.stop(), degraded?.stop()])
  })

  const submitAsync = async (target: TestWorker, group = 'default') => {
    const response = await submitTask(cluster.gatewayUrl, { group, function: 'hello', contract: 1, mode: 'async' }, { lb: LB_KEY, worker: target.authKey })
    expect(response.status).toBe(202)
    return (response.json() as { taskId: string }).taskId
  }

  /**
   * "Nothing happens" can only be shown by letting time pass: two discovery intervals and two
   * heartbeats, in which a wrongly dispatched task would have started.
   */
  const quietPeriod = () => new Promise(resolve => setTimeout(resolve, 1200))

  it('a Worker in maintenance gets nothing until it is back', async () => {
    await worker.setMaintenance(true)
    await cluster.waitForWorkers([worker.url], 'maintenance')
    const received = (await worker.stats()).received
    const taskId = await submitAsync(worker)
    await quietPeriod()
    expect((await getTask(cluster.gatewayUrl, taskId, LB_KEY)).status).toBe('queued')
    expect((await worker.stats()).received).toBe(received)
    await worker.setMaintenance(false)
    expect((await waitForTask(cluster.gatewayUrl, taskId, LB_KEY)).status).toBe('completed')
  })

  it('a Worker reporting a service down gets nothing', async () => {
    const taskId = await submitAsync(degraded, 'degraded')
    await quietPeriod()
    expect((await getTask(cluster.gatewayUrl, taskId, LB_KEY)).status).toBe('queued')
    expect((await degraded.stats()).received).toBe(0)
    const state = await cluster.workerState(degraded.url)
    expect(state?.reason).toContain('db')
  })

  it('a Worker that misses its heartbeats gets nothing until it answers again', async () => {
    worker.freeze()
    try {
      await cluster.waitForWorkers([worker.url], 'offline')
      const taskId = await submitAsync(worker)
      await quietPeriod()
      expect((await getTask(cluster.gatewayUrl, taskId, LB_KEY)).status).toBe('queued')
      worker.resume()
      await cluster.waitForWorkers([worker.url])
      expect((await waitForTask(cluster.gatewayUrl, taskId, LB_KEY)).status).toBe('completed')
    } finally {
      worker.resume()
    }
  })
})
