import { Router } from 'express'
import type { Redis } from 'ioredis'
import { z } from 'zod'
import { got } from 'got'
import { normalizeWorkerUrl, workerIdForUrl, type RedisKeys, type WorkerDirectory } from '@slotway/shared'
import { HttpError } from '../http-errors.js'

const NewWorker = z.object({ url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }) })

export interface WorkerRouteDeps {
  redis: Redis
  keys: RedisKeys
  directory: WorkerDirectory
  lbAuthKey: string
}

/**
 * The Worker registry: the Workers of workers.json plus those added here (kept in Redis, so every
 * replica sees one list), and a proxy to a registered Worker's logs. Requests with the LB key only
 * ever go to URLs that are registered — never to one a client names.
 */
export function workerRoutes({ redis, keys, directory, lbAuthKey }: WorkerRouteDeps): Router {
  const router = Router()

  router.get('/workers', async (_req, res) => {
    const added = await redis.hgetall(keys.registry)
    const known = new Map(directory.all().map(w => [w.id, w]))
    for (const [id, url] of Object.entries(added)) if (!known.has(id)) known.set(id, { id, url, status: 'unknown', reason: 'not polled yet', streamConnected: false, changedAt: Date.now() })
    res.json({
      workers: [...known.values()].map(w => ({
        id: w.id, url: w.url, source: w.id in added ? 'api' : 'file', status: w.status, ...(w.reason ? { reason: w.reason } : {}),
        group: w.group ?? null, contract: w.contract ?? null, slots: w.slots ?? null,
      })),
    })
  })

  router.post('/workers', async (req, res) => {
    const parsed = NewWorker.safeParse(req.body)
    if (!parsed.success) throw new HttpError(400, 'INVALID_WORKER', `url: ${parsed.error.issues[0]!.message}`)
    const url = normalizeWorkerUrl(parsed.data.url)
    const id = workerIdForUrl(url)
    if (directory.get(id) || (await redis.hexists(keys.registry, id))) {
      throw new HttpError(409, 'WORKER_EXISTS', 'this Worker is already registered', { id, url })
    }
    await redis.pipeline().hset(keys.registry, id, url).publish(keys.registryChanged, id).exec()
    res.status(201).json({ id, url, source: 'api' })
  })

  router.delete('/workers/:id', async (req, res) => {
    const id = req.params.id as string
    if ((await redis.hdel(keys.registry, id)) === 1) {
      await redis.publish(keys.registryChanged, id)
      return void res.json({ id, removed: true })
    }
    if (directory.get(id)) throw new HttpError(409, 'WORKER_IN_FILE', 'this Worker is listed in workers.json; remove it there')
    throw new HttpError(404, 'WORKER_NOT_FOUND', 'no registered Worker has this id')
  })

  router.get('/workers/:id/logs', async (req, res) => {
    const worker = directory.get(req.params.id as string)
    if (!worker) throw new HttpError(404, 'WORKER_NOT_FOUND', 'no registered Worker has this id')
    let response
    try {
      response = await got.get(`${worker.url}/logs`, {
        headers: { 'x-lb-auth': lbAuthKey },
        timeout: { request: 5000 },
        retry: { limit: 0 },
        throwHttpErrors: false,
        followRedirect: false,
      })
    } catch (error) {
      throw new HttpError(502, 'WORKER_UNREACHABLE', `the Worker did not answer: ${(error as { code?: string }).code ?? String(error)}`)
    }
    let body: unknown
    try {
      body = JSON.parse(response.body)
    } catch {
      throw new HttpError(502, 'WORKER_BAD_ANSWER', 'the Worker answered /logs with something that is not JSON')
    }
    res.status(response.statusCode === 200 ? 200 : 502).json(response.statusCode === 200 ? body : { error: `the Worker answered /logs with HTTP ${response.statusCode}`, code: 'WORKER_BAD_ANSWER' })
  })

  return router
}
