import express, { type Express } from 'express'
import type { Redis } from 'ioredis'
import type { GatewayEnv, Logger, SecretBox } from '@slotway/shared'
import { errorHandler, notFound } from './http-errors.js'
import { requireLbKey } from './require-key.js'
import type { ResultWaiter } from './result-waiter.js'
import { healthRoutes } from './routes/health.js'
import { taskRoutes } from './routes/task.js'
import type { TaskQueues } from './task-queues.js'

export interface GatewayDeps {
  config: GatewayEnv
  redis: Redis
  queues: TaskQueues
  waiter: ResultWaiter
  secretBox: SecretBox
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
  app.use(notFound)
  app.use(errorHandler((message, meta) => deps.logger.error(message, meta)))
  return app
}
