import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer as createHttpServer } from 'node:http'
import {
  GatewayEnv,
  RedisLogSink,
  SlotLedger,
  TaskMetrics,
  createWorkerClient,
  WorkerDirectory,
  connectRedis,
  createLogger,
  createSecretBox,
  loadConfigOrExit,
  redisKeys,
  redisUrl,
  startHeartbeat,
} from '@slotway/shared'
import { AuthLimiter } from './auth-limiter.js'
import { DirectRun } from './direct-run.js'
import { DirectSlots } from './direct-slots.js'
import { IdempotencyKeys } from './idempotency.js'
import { PoolCatalog } from './pool-catalog.js'
import { ResultWaiter } from './result-waiter.js'
import { TaskStore } from './task-store.js'
import { createServer } from './server.js'
import { TaskQueues } from './task-queues.js'

// Wire-up only: config → connections → HTTP server → graceful stop.
const config = loadConfigOrExit(GatewayEnv)

let stopping = false
const gatewayId = `gateway-${randomUUID().slice(0, 8)}`
const keys = redisKeys(config.REDIS_PREFIX)
const url = redisUrl(config)
const redis = connectRedis(url, `${gatewayId}:commands`)
const sink = new RedisLogSink(redis, keys.logs, config.MAX_LOGS)
const logger = createLogger({ service: 'gateway', level: config.LOG_LEVEL, format: config.LOG_FORMAT, replica: gatewayId, sink })
const subscriber = connectRedis(url, `${gatewayId}:replies`)
for (const connection of [redis, subscriber]) connection.on('error', error => logger.debug('redis connection error', { error: error.message }))

const queues = new TaskQueues(redis, keys)
const waiter = new ResultWaiter(subscriber, keys, gatewayId, queues, config.RESULT_RECHECK_INTERVAL)
const directory = new WorkerDirectory(redis, subscriber, keys)
const store = new TaskStore(redis, keys, queues, directory, config.RESULT_TTL)
await Promise.all([waiter.start(), directory.start()])

const metrics = new TaskMetrics(redis, keys)
const ledger = new SlotLedger(redis, keys, gatewayId, config.SLOT_LEASE)
const slots = new DirectSlots({ ledger, directory, queues, redis, subscriber, keys, logger, holdMs: config.DIRECT_SLOT_HOLD })
await slots.start()
const direct = new DirectRun({
  ledger,
  slots,
  directory,
  callWorker: createWorkerClient({ timeoutMs: config.TASK_TIMEOUT, maxResponseBytes: config.MAX_RESULT_SIZE }),
  lbAuthKey: config.LB_AUTH_KEY,
  metrics,
  leaseMs: config.SLOT_LEASE,
  logger,
})
const handler = createServer({
  direct,
  config,
  keys,
  redis,
  queues,
  waiter,
  store,
  catalog: new PoolCatalog(directory),
  idempotency: new IdempotencyKeys(redis, keys, config.RESULT_TTL),
  secretBox: createSecretBox(config.LB_AUTH_KEY),
  metrics,
  directory,
  limiter: new AuthLimiter(redis, keys, config.AUTH_FAILURE_LIMIT, config.AUTH_FAILURE_WINDOW),
  logger,
})
const server = createHttpServer(handler).listen(config.PORT, config.HOST)
await once(server, 'listening')
server.keepAliveTimeout = 65_000
// While stopping, a keep-alive connection is closed as soon as its last answer is out.
server.on('request', (_req, res) => res.on('finish', () => stopping && setImmediate(() => server.closeIdleConnections())))
const address = server.address()
const stopHeartbeat = startHeartbeat(redis, keys, 'gateway', gatewayId)
logger.info('gateway ready', { port: typeof address === 'object' && address ? address.port : config.PORT })

async function shutdown(signal: string): Promise<void> {
  if (stopping) return
  stopping = true
  logger.info('stopping: no new requests, waiting for open ones', { signal, waiting: waiter.pending })
  const closed = new Promise(resolve => server.close(resolve))
  server.closeIdleConnections()
  let timer: NodeJS.Timeout | undefined
  await Promise.race([closed, new Promise(resolve => (timer = setTimeout(resolve, config.DRAIN_TIMEOUT)))])
  clearTimeout(timer)
  waiter.stop()
  direct.stop()
  // Give the answers just written a moment to leave before the sockets go.
  await new Promise(resolve => setImmediate(resolve))
  server.closeAllConnections()
  // Direct calls cut off just now give their slots back: let that reach Redis before we leave it.
  await slots.settle(1000)
  directory.stop()
  logger.info('stopped')
  await Promise.allSettled([queues.close(), store.close(), stopHeartbeat(), sink.flush(), metrics.flush()])
  await Promise.allSettled([redis.quit(), subscriber.quit()])
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
