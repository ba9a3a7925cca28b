import express, { type Express } from 'express'
import { errorHandler, notFound } from './http-errors.js'
import { requireLbKey } from './require-key.js'
import { healthRoutes } from './routes/health.js'
import { taskByIdRoutes } from './routes/task-by-id.js'
import { taskRoutes, type TaskRouteDeps } from './routes/task.js'
import type { Logger } from '@slotway/shared'

export interface GatewayDeps extends TaskRouteDeps {
  logger: Logger
}

export function createServer(deps: GatewayDeps): Express {
  const app = express()
  app.disable('x-powered-by')
  app.set('query parser', 'simple')
  app.use(healthRoutes(deps.redis))
  app.use(requireLbKey(deps.config.LB_AUTH_KEY))
  app.use(express.json({ limit: deps.config.REQUEST_BODY_LIMIT, type: 'application/json' }))
  app.use(taskRoutes(deps))
  app.use(taskByIdRoutes(deps.store))
  app.use(notFound)
  app.use(errorHandler((message, meta) => deps.logger.error(message, meta)))
  return app
}
