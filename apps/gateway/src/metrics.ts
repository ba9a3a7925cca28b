import { Counter, Gauge, Registry, type Metric } from 'prom-client'
import { LATENCY_BUCKETS, isPoolId, type TaskMetrics, type WorkerDirectory } from '@slotway/shared'
import type { Redis } from 'ioredis'
import type { RedisKeys } from '@slotway/shared'
import type { TaskQueues } from './task-queues.js'

type Histogram = 'queue_wait' | 'run_time'

/** A histogram whose buckets are counted in Redis by the dispatchers, reported as Prometheus reads them. */
function redisHistogram(name: string, help: string, histogram: Histogram, read: () => Record<string, string>): Metric {
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset: () => undefined,
    get: async () => {
      const fields = read()
      const pools = new Set(Object.keys(fields).filter(f => f.startsWith(`${histogram}|`)).map(f => f.split('|')[1]!))
      const values = []
      for (const pool of pools) {
        let cumulative = 0
        for (const bound of [...LATENCY_BUCKETS, Infinity]) {
          cumulative += Number(fields[`${histogram}|${pool}|${bound}`] ?? 0)
          values.push({ metricName: `${name}_bucket`, labels: { pool, le: bound === Infinity ? '+Inf' : bound }, value: cumulative })
        }
        values.push({ metricName: `${name}_sum`, labels: { pool }, value: Number(fields[`${histogram}_sum|${pool}`] ?? 0) })
        values.push({ metricName: `${name}_count`, labels: { pool }, value: cumulative })
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values } as never
    },
  } as unknown as Metric
}

/**
 * GET /metrics: task counters and latencies of the whole installation (kept in Redis by every
 * service), queue depths per pool, and every Worker's slots and state — the same from any gateway.
 */
export function createMetrics(deps: { redis: Redis; keys: RedisKeys; taskMetrics: TaskMetrics; queues: TaskQueues; directory: WorkerDirectory }): { render(): Promise<string>; contentType: string } {
  const registry = new Registry()
  let fields: Record<string, string> = {}

  for (const counter of ['submitted', 'completed', 'failed', 'retried'] as const) {
    registry.registerMetric(new Counter({
      name: `slotway_tasks_${counter}_total`,
      help: `Tasks ${counter}, per pool`,
      labelNames: ['pool'],
      registers: [],
      collect() {
        this.reset()
        for (const [field, value] of Object.entries(fields)) {
          const [name, pool] = field.split('|')
          if (name === counter && pool) this.inc({ pool }, Number(value))
        }
      },
    }))
  }
  registry.registerMetric(redisHistogram('slotway_task_queue_wait_seconds', 'Time from submission to the start of the first attempt', 'queue_wait', () => fields))
  registry.registerMetric(redisHistogram('slotway_task_run_seconds', 'Time one attempt took on a Worker', 'run_time', () => fields))

  registry.registerMetric(new Gauge({
    name: 'slotway_queue_depth',
    help: 'Tasks per pool and state',
    labelNames: ['pool', 'state'],
    registers: [],
    async collect() {
      this.reset()
      const pools = (await deps.redis.smembers(deps.keys.pools)).filter(isPoolId)
      await Promise.all(pools.map(async pool => {
        const counts = await deps.queues.get(pool).getJobCounts('waiting', 'prioritized', 'delayed', 'active')
        this.set({ pool, state: 'waiting' }, (counts.waiting ?? 0) + (counts.prioritized ?? 0))
        this.set({ pool, state: 'delayed' }, counts.delayed ?? 0)
        this.set({ pool, state: 'active' }, counts.active ?? 0)
      }))
    },
  }))

  const workerGauge = (name: string, help: string, value: (w: ReturnType<WorkerDirectory['all']>[number]) => number | undefined) =>
    registry.registerMetric(new Gauge({
      name,
      help,
      labelNames: ['worker', 'pool'],
      registers: [],
      collect() {
        this.reset()
        for (const worker of deps.directory.all()) {
          const v = value(worker)
          if (v !== undefined) this.set({ worker: worker.url, pool: worker.pool ?? '' }, v)
        }
      },
    }))
  workerGauge('slotway_worker_slots_used', 'Slots in use, as the Worker reports them', w => w.slots?.used)
  workerGauge('slotway_worker_slots_limit', 'Slots the Worker has', w => w.slots?.limit)
  workerGauge('slotway_worker_up', '1 when the Worker may take tasks', w => (w.status === 'ready' ? 1 : 0))

  return {
    contentType: registry.contentType,
    async render() {
      fields = await deps.taskMetrics.read()
      return registry.metrics()
    },
  }
}
