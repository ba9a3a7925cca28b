import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, submitTask } from './harness/cluster.js'
import { workerKinds } from './harness/paths.js'
import { getTask, waitForStats, waitForTask } from './harness/tasks.js'
import { TestWorker } from './harness/test-worker.js'

const LB_KEY = 'lb-key-for-tests-0123456789'

describe.each(workerKinds())('ordering and fairness, against the %s Worker', kind => {
  let cluster: Cluster
  let busy: TestWorker
  let other: TestWorker

  beforeAll(async () => {
    busy = await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 1, group: 'busy' })
    other = await TestWorker.start({ kind, lbAuthKey: LB_KEY, slots: 1, group: 'other' })
    // Two dispatcher replicas compete for every slot.
    cluster = await Cluster.start({ lbAuthKey: LB_KEY, workerUrls: [busy.url, other.url], dispatchers: 2, env: { DEFAULT_PRIORITY: '1000' } })
    await cluster.waitForWorkers([busy.url, other.url])
  })
  afterAll(async () => {
    await cluster?.stop()
    await Promise.all([busy?.stop(), other?.stop()])
  })

  const submit = (input: Record<string, unknown>, priority?: number) =>
    submitTask(cluster.gatewayUrl, { group: 'busy', function: 'sleep', contract: 1, input, mode: 'async', ...(priority ? { priority } : {}) }, { lb: LB_KEY, worker: busy.authKey })
      .then(response => (response.json() as { taskId: string }).taskId)

  it('starts a backlog in priority order, first come first served within a priority, across replicas', async () => {
    const blocker = await submit({ ms: 600, tag: 'blocker' }, 1)
    await waitForStats(() => busy.stats(), stats => stats.used === 1)
    const backlog: [string, number | undefined][] = [
      ['none', undefined], ['p5', 5], ['p3', 3], ['p2-first', 2], ['p1', 1], ['p4', 4], ['p2-second', 2],
    ]
    const ids: string[] = []
    for (const [tag, priority] of backlog) ids.push(await submit({ ms: 1, tag }, priority))
    // All of them were queued while the only slot was taken.
    expect((await getTask(cluster.gatewayUrl, blocker, LB_KEY)).status).toBe('active')
    for (const id of ids) await waitForTask(cluster.gatewayUrl, id, LB_KEY)
    const started = (await busy.stats()).started.map(s => s.tag)
    expect(started.slice(started.indexOf('blocker') + 1)).toEqual(['p1', 'p2-first', 'p2-second', 'p3', 'p4', 'p5', 'none'])
    // A task without priority got the configured default, not BullMQ's "0 = before everything".
    expect((await busy.stats()).started.find(s => s.tag === 'none')?.priority).toBe(1000)
  })

  it("never lets one pool's backlog delay another pool", async () => {
    const backlog: string[] = []
    for (let i = 0; i < 4; i++) backlog.push(await submit({ ms: 400, tag: `backlog-${i}` }))
    await waitForStats(() => busy.stats(), stats => stats.used === 1)
    const response = await submitTask(cluster.gatewayUrl, { group: 'other', function: 'hello', contract: 1 }, { lb: LB_KEY, worker: other.authKey })
    expect(response.status).toBe(200)
    // The other pool answered while this pool still had tasks waiting.
    expect((await getTask(cluster.gatewayUrl, backlog.at(-1)!, LB_KEY)).status).toBe('queued')
    for (const id of backlog) await waitForTask(cluster.gatewayUrl, id, LB_KEY)
  })
})
