import { Router, type RequestHandler } from 'express'
import type { Redis } from 'ioredis'
import { keysMatch, liveReplicas, type RedisKeys, type WorkerDirectory, type WorkerState } from '@slotway/shared'
import { presentedKey } from '../require-key.js'

async function redisAnswers(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status !== 'ready') return false
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>(resolve => (timer = setTimeout(() => resolve(false), timeoutMs)))
  try {
    return await Promise.race([redis.ping().then(answer => answer === 'PONG'), timeout])
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}

/** What the health document says of a Worker: enough to operate, nothing secret. */
function describeWorker(worker: WorkerState) {
  return {
    id: worker.id,
    url: worker.url,
    status: worker.status,
    ...(worker.reason ? { reason: worker.reason } : {}),
    group: worker.group ?? null,
    contract: worker.contract ?? null,
    slots: worker.slots ?? null,
    functions: (worker.functions ?? []).map(f => f.name),
    tags: worker.tags ?? {},
    lastSeenAt: worker.lastSeenAt ? new Date(worker.lastSeenAt).toISOString() : null,
  }
}

export interface HealthDeps {
  redis: Redis
  keys: RedisKeys
  directory: WorkerDirectory
  lbAuthKey: string
}

/**
 * GET /health. Public: "ready" when this gateway can queue tasks, else 503 "unreachable".
 * With the LB key: the Workers, valid and invalid, and the state of every Slotway service.
 */
export function healthRoutes({ redis, keys, directory, lbAuthKey }: HealthDeps): Router {
  const router = Router()
  const health: RequestHandler = async (req, res) => {
    const ready = await redisAnswers(redis, 1000)
    const status = ready ? 'ready' : 'unreachable'
    res.status(ready ? 200 : 503)
    if (!keysMatch(presentedKey(req), lbAuthKey)) return void res.json({ status })
    const [discovery = 0, dispatchers = 0] = ready
      ? await Promise.all([liveReplicas(redis, keys, 'discovery'), liveReplicas(redis, keys, 'dispatcher')]).catch(() => [0, 0])
      : [0, 0]
    const workers = directory.all()
    res.json({
      status,
      workers: workers.filter(w => w.status !== 'invalid').map(describeWorker),
      invalidWorkers: workers.filter(w => w.status === 'invalid').map(describeWorker),
      services: {
        redis: ready ? 'up' : 'down',
        bullmq: ready ? 'up' : 'down',
        discovery: discovery > 0 ? 'up' : 'down',
        dispatchers,
      },
    })
  }
  router.get('/health', health)
  return router
}
