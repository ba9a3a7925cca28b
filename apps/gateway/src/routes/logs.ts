import { Router } from 'express'
import type { Redis } from 'ioredis'
import { z } from 'zod'
import type { LogLine, RedisKeys } from '@slotway/shared'
import { HttpError } from '../http-errors.js'

const LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const

const LogQuery = z.object({
  service: z.string().max(64).optional(),
  /** The least severe level to include: `warn` gives warn and error. */
  level: z.enum(LEVELS).optional(),
  limit: z.coerce.number().int().min(1).max(100_000).optional(),
})

/** GET /logs: the last lines of every service, newest last, gathered through Redis. */
export function logRoutes(redis: Redis, keys: RedisKeys, maxLogs: number): Router {
  const router = Router()
  router.get('/logs', async (req, res) => {
    const query = LogQuery.safeParse(req.query)
    if (!query.success) throw new HttpError(400, 'INVALID_QUERY', `bad query: ${query.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
    const { service, level, limit } = query.data
    const raw = await redis.lrange(keys.logs, -maxLogs, -1)
    const worst = level ? LEVELS.indexOf(level) : LEVELS.length
    let lines = raw.flatMap(json => {
      try {
        return [JSON.parse(json) as LogLine]
      } catch {
        return []
      }
    })
    // Services write their lines in batches of their own: order them by time, newest last.
    lines.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0))
    if (service) lines = lines.filter(line => line.service === service)
    if (level) lines = lines.filter(line => LEVELS.indexOf(line.level as (typeof LEVELS)[number]) <= worst)
    if (limit) lines = lines.slice(-limit)
    res.json({ logs: lines })
  })
  return router
}
