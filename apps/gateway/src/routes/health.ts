import { Router } from 'express'
import type { Redis } from 'ioredis'

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

/** GET /health: public; "ready" when this gateway can queue tasks. */
export function healthRoutes(redis: Redis): Router {
  const router = Router()
  router.get('/health', async (_req, res) => {
    const ready = await redisAnswers(redis, 1000)
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unreachable' })
  })
  return router
}
