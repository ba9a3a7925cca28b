import type { IncomingMessage, ServerResponse } from 'node:http'
import express from 'express'
import helmet from 'helmet'
import cors from 'cors'
import { keyMatcher, type Logger, type TaskMetrics, type WorkerDirectory } from '@slotway/shared'
import type { AuthLimiter } from './auth-limiter.js'
import { limitDepth } from './body-guard.js'
import { bullBoard } from './bull-board.js'
import { errorHandler, notFound } from './http-errors.js'
import { createMetrics } from './metrics.js'
import { openApiDocument } from './openapi.js'
import { requireKey } from './require-key.js'
import { healthRoutes } from './routes/health.js'
import { logRoutes } from './routes/logs.js'
import { taskByIdRoutes } from './routes/task-by-id.js'
import { createTaskSubmitter, taskRoutes, type TaskRouteDeps } from './routes/task.js'
import { headersOf, taskEndpoint } from './task-endpoint.js'
import { workerRoutes } from './routes/workers.js'

export interface GatewayDeps extends TaskRouteDeps {
  directory: WorkerDirectory
  limiter: AuthLimiter
  logger: Logger
}

/** The gateway's request handler: POST /task on its own fast path, every other route through express. */
export function createServer(deps: GatewayDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, redis, keys, directory, limiter } = deps
  const app = express()
  app.disable('x-powered-by')
  // Answers are task results, never cached: hashing each one for an ETag is wasted work.
  app.set('etag', false)
  app.set('query parser', 'simple')
  app.set('trust proxy', config.TRUST_PROXY)
  // Bull Board's page needs its own inline script and styles; everything else gets the strict default.
  const strict = helmet()
  const relaxed = helmet({ contentSecurityPolicy: false })
  app.use((req, res, next) => (req.path.startsWith('/bull') ? relaxed : strict)(req, res, next))
  const corsPolicy = config.CORS_ORIGINS ? cors({ origin: config.CORS_ORIGINS.split(',').map(origin => origin.trim()) }) : undefined
  if (corsPolicy) app.use(corsPolicy)

  const lbKey = requireKey({ keys: [config.LB_AUTH_KEY], limiter })
  app.use(healthRoutes({ redis, keys, directory, lbAuthKey: config.LB_AUTH_KEY }))
  app.get('/openapi.json', (_req, res) => void res.json(openApiDocument()))

  const metrics = createMetrics({ redis, keys, taskMetrics: deps.metrics, queues: deps.queues, directory })
  app.get('/metrics', requireKey({ keys: [config.LB_AUTH_KEY, ...(config.METRICS_TOKEN ? [config.METRICS_TOKEN] : [])], limiter }), async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.render())
  })
  if (config.BULL_BOARD_ENABLED) {
    app.use('/bull', requireKey({ keys: [config.LB_AUTH_KEY], limiter, browser: true }), bullBoard({ redis, keys, queues: deps.queues, directory, webhooks: deps.store.webhooks }))
  }

  app.use(lbKey)
  app.use(express.json({ limit: config.REQUEST_BODY_LIMIT, type: 'application/json' }))
  app.use(limitDepth)
  const submit = createTaskSubmitter(deps)
  app.use(taskRoutes(submit))
  app.use(taskByIdRoutes(deps.store))
  app.use(workerRoutes({ redis, keys, directory, lbAuthKey: config.LB_AUTH_KEY }))
  app.use(logRoutes(redis, keys, config.MAX_LOGS))
  app.use(notFound)
  const log = (message: string, meta: object) => deps.logger.error(message, meta)
  app.use(errorHandler(log))
  return taskEndpoint(
    { submit, isLbKey: keyMatcher(config.LB_AUTH_KEY), limiter, bodyLimit: config.REQUEST_BODY_LIMIT, headers: headersOf(strict), ...(corsPolicy ? { cors: corsPolicy } : {}), log },
    app,
  )
}

export type { TaskMetrics }
