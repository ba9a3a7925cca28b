import { randomUUID } from 'node:crypto'
import { ConfigError, DiscoveryEnv, connectRedis, createLogger, loadConfig, redisKeys, redisUrl } from '@slotway/shared'
import { Discovery } from './discovery.js'

// Wire-up only: config → connection → discovery → graceful stop.
let config: DiscoveryEnv
try {
  config = loadConfig(DiscoveryEnv)
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(error.message)
  process.exit(1)
}

const replicaId = `discovery-${randomUUID().slice(0, 8)}`
const logger = createLogger({ service: 'discovery', level: config.LOG_LEVEL, format: config.LOG_FORMAT, replica: replicaId })
const redis = connectRedis(redisUrl(config), `${replicaId}:commands`)
redis.on('error', error => logger.debug('redis connection error', { error: error.message }))

const discovery = new Discovery({ config, keys: redisKeys(config.REDIS_PREFIX), redis, logger, replicaId })
await discovery.start()
logger.info('discovery ready', { workersFile: config.WORKERS_FILE })

let stopping = false
async function shutdown(signal: string): Promise<void> {
  if (stopping) return
  stopping = true
  logger.info('stopping', { signal })
  await discovery.stop()
  await redis.quit().catch(() => undefined)
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
