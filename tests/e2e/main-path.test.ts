import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, submitTask } from './harness/cluster.js'
import { workerKinds } from './harness/paths.js'
import { getTask } from './harness/tasks.js'
import { TestWorker } from './harness/test-worker.js'

const LB_KEY = 'lb-key-for-tests-0123456789'

describe.each(workerKinds())('the main path, against the %s Worker', kind => {
  let cluster: Cluster
  let worker: TestWorker
  const keys = () => ({ lb: LB_KEY, worker: worker.authKey })

  beforeAll(async () => {
    worker = await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 2 })
    cluster = await Cluster.start({ lbAuthKey: LB_KEY, workerUrls: [worker.url] })
    await cluster.waitForWorkers([worker.url])
  })
  afterAll(async () => {
    await cluster?.stop()
    await worker?.stop()
  })

  it('answers the README example with the Worker result, byte for byte', async () => {
    const response = await submitTask(
      cluster.gatewayUrl,
      { group: 'default', function: 'hello', contract: 1, priority: 1, input: { name: 'Andera' }, mode: 'sync' },
      keys(),
    )
    expect(response.status).toBe(200)
    expect(response.text).toBe('{"success":true,"result":{"message":"Hello Andera!"}}')
  })

  it('accepts keys with a Bearer prefix', async () => {
    const response = await submitTask(cluster.gatewayUrl, { function: 'hello', contract: 1 }, { lb: `Bearer ${LB_KEY}`, worker: `Bearer ${worker.authKey}` })
    expect(response.status).toBe(200)
    expect(response.json()).toEqual({ success: true, result: { message: 'Hello World!' } })
  })

  it('refuses a wrong LB key, or a missing one, with 401 JSON', async () => {
    for (const lb of ['wrong-key', undefined]) {
      const response = await submitTask(cluster.gatewayUrl, { function: 'hello', contract: 1 }, { lb, worker: worker.authKey })
      expect(response.status).toBe(401)
      expect(response.json()).toMatchObject({ error: expect.stringContaining('Unauthorized') })
    }
  })

  it('refuses a task without x-wr-auth with 401 JSON', async () => {
    const response = await submitTask(cluster.gatewayUrl, { function: 'hello', contract: 1 }, { lb: LB_KEY })
    expect(response.status).toBe(401)
    expect(response.json()).toMatchObject({ error: expect.stringContaining('x-wr-auth') })
  })

  it('answers a missing field with 400 naming it', async () => {
    for (const [body, field] of [
      [{ contract: 1 }, 'function'],
      [{ function: 'hello' }, 'contract'],
      [{ function: 'hello', contract: 1, priority: 0 }, 'priority'],
      [{ function: 'hello', contract: 1, input: [1] }, 'input'],
    ] as const) {
      const response = await submitTask(cluster.gatewayUrl, body, keys())
      expect(response.status).toBe(400)
      const json = response.json() as { error: string; issues: { path: string }[] }
      expect(json.error).toContain(field)
      expect(json.issues[0]!.path).toBe(field)
    }
  })

  it("passes the Worker's own refusal through with its status, untried elsewhere", async () => {
    const response = await submitTask(cluster.gatewayUrl, { function: 'echo', contract: 1, mode: 'stream' }, keys())
    expect(response.status).toBe(400)
    expect(response.json()).toEqual({ error: "Function 'echo' does not support streaming" })
    const task = await getTask(cluster.gatewayUrl, response.taskId!, LB_KEY)
    expect(task).toMatchObject({ status: 'failed', attempts: 1, httpStatus: 400 })
  })

  it("checks params by the Workers' own rules, so a bad input is a 400 and never reaches a Worker", async () => {
    const before = (await worker.stats()).received
    for (const [input, error] of [
      [{}, 'Missing required param: ms'],
      [{ ms: 5, extra: 1 }, 'Unexpected param: extra'],
      [{ ms: 'soon' }, 'Invalid type for param: ms, expected number'],
      [{ ms: -1 }, 'Value for param: ms must be >= 0'],
    ] as const) {
      const response = await submitTask(cluster.gatewayUrl, { function: 'sleep', contract: 1, input }, keys())
      expect(response.status).toBe(400)
      expect((response.json() as { error: string }).error).toBe(error)
    }
    expect((await worker.stats()).received).toBe(before)
  })

  it('answers 404 at once for a function no known Worker offers', async () => {
    for (const body of [
      { function: 'no-such-function', contract: 1 },
      { function: 'hello', contract: 99 },
      { group: 'nobody', function: 'hello', contract: 1 },
    ]) {
      const response = await submitTask(cluster.gatewayUrl, body, keys())
      expect(response.status).toBe(404)
      expect(response.json()).toMatchObject({ error: expect.stringContaining('no worker offers this function') })
    }
  })

  it('queues tasks while every slot is busy and never runs more than the slot limit', async () => {
    const before = await worker.stats()
    const burst = Array.from({ length: 8 }, (_, i) =>
      submitTask(cluster.gatewayUrl, { function: 'sleep', contract: 1, input: { ms: 200, tag: `burst-${i}` } }, keys()))
    const responses = await Promise.all(burst)
    for (const response of responses) expect(response.status).toBe(200)
    expect(responses.map(r => (r.json() as { result: { tag: string } }).result.tag).sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => `burst-${i}`).sort(),
    )
    const after = await worker.stats()
    expect(after.received - before.received).toBe(8)
    expect(after.maxUsed).toBeLessThanOrEqual(2)
    // Slotway held the surplus in Redis: nothing waited inside the Worker.
    expect(after.maxQueued).toBe(0)
  })
})

describe.each(workerKinds())('the Worker list, against the %s Worker', kind => {
  let cluster: Cluster
  const workers: TestWorker[] = []

  beforeAll(async () => {
    workers.push(await TestWorker.start({ kind, lbAuthKey: LB_KEY, group: 'first' }))
    cluster = await Cluster.start({ lbAuthKey: LB_KEY, workerUrls: [workers[0]!.url] })
    await cluster.waitForWorkers([workers[0]!.url])
  })
  afterAll(async () => {
    await cluster?.stop()
    await Promise.all(workers.map(w => w.stop()))
  })

  it('sends tasks to a Worker added to workers.json while running, without a restart', async () => {
    const added = await TestWorker.start({ kind, lbAuthKey: LB_KEY, group: 'second' })
    workers.push(added)
    cluster.writeWorkers([workers[0]!.url, added.url])
    await cluster.waitForWorkers([added.url])
    const response = await submitTask(cluster.gatewayUrl, { group: 'second', function: 'echo', contract: 1, input: { value: { n: 1 } } }, { lb: LB_KEY, worker: added.authKey })
    expect(response.status).toBe(200)
    expect(response.json()).toEqual({ success: true, result: { value: { n: 1 } } })
    expect((await added.stats()).received).toBe(1)
  })

  it('forgets a Worker removed from workers.json', async () => {
    cluster.writeWorkers([workers[0]!.url])
    const removedUrl = workers[1]!.url
    await cluster.waitUntil(async () => (await cluster.workerState(removedUrl)) === undefined)
    expect(await cluster.workerState(removedUrl)).toBeUndefined()
  })
})
