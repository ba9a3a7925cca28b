import { randomUUID } from 'node:crypto'
import {
  DiscoveryEnv,
  RedisLogSink,
  connectRedis,
  createLogger,
  loadConfigOrExit,
  redisKeys,
  redisUrl,
  startHeartbeat,
} from '@slotway/shared'
import { Discovery } from './discovery.js'

// Wire-up only: config → connection → discovery → graceful stop.
const config = loadConfigOrExit(DiscoveryEnv)

const replicaId = `discovery-${randomUUID().slice(0, 8)}`
const keys = redisKeys(config.REDIS_PREFIX)
const redis = connectRedis(redisUrl(config), `${replicaId}:commands`)
const subscriber = connectRedis(redisUrl(config), `${replicaId}:events`)
const sink = new RedisLogSink(redis, keys.logs, config.MAX_LOGS)
const logger = createLogger({ service: 'discovery', level: config.LOG_LEVEL, format: config.LOG_FORMAT, replica: replicaId, sink })
for (const connection of [redis, subscriber]) connection.on('error', error => logger.debug('redis connection error', { error: error.message }))

const discovery = new Discovery({ config, keys, redis, subscriber, logger, replicaId })
await discovery.start()
const stopHeartbeat = startHeartbeat(redis, keys, 'discovery', replicaId)
logger.info('discovery ready', { workersFile: config.WORKERS_FILE })

let stopping = false
async function shutdown(signal: string): Promise<void> {
  if (stopping) return
  stopping = true
  logger.info('stopping', { signal })
  await discovery.stop()
  await Promise.all([stopHeartbeat(), sink.flush()])
  await Promise.allSettled([redis.quit(), subscriber.quit()])
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
