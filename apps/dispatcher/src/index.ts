import { randomUUID } from 'node:crypto'
import {
  DispatcherEnv,
  RedisLogSink,
  WorkerDirectory,
  connectRedis,
  createLogger,
  createSecretBox,
  loadConfigOrExit,
  redisKeys,
  redisUrl,
  startHeartbeat,
} from '@slotway/shared'
import { Dispatcher } from './dispatcher.js'

// Wire-up only: config → connections → dispatcher → graceful stop.
const config = loadConfigOrExit(DispatcherEnv)

const replicaId = `dispatcher-${randomUUID().slice(0, 8)}`
const keys = redisKeys(config.REDIS_PREFIX)
const url = redisUrl(config)
const redis = connectRedis(url, `${replicaId}:commands`)
const sink = new RedisLogSink(redis, keys.logs, config.MAX_LOGS)
const logger = createLogger({ service: 'dispatcher', level: config.LOG_LEVEL, format: config.LOG_FORMAT, replica: replicaId, sink })
const subscriber = connectRedis(url, `${replicaId}:events`)
for (const connection of [redis, subscriber]) connection.on('error', error => logger.debug('redis connection error', { error: error.message }))

const directory = new WorkerDirectory(redis, subscriber, keys)
const dispatcher = new Dispatcher({ config, keys, redis, subscriber, directory, secretBox: createSecretBox(config.LB_AUTH_KEY), logger, replicaId })

await directory.start()
await dispatcher.start()
const stopHeartbeat = startHeartbeat(redis, keys, 'dispatcher', replicaId)
logger.info('dispatcher ready', { replica: replicaId })

let stopping = false
async function shutdown(signal: string): Promise<void> {
  if (stopping) return
  stopping = true
  logger.info('stopping: finishing running tasks', { signal, active: dispatcher.activeTasks })
  await dispatcher.stop()
  directory.stop()
  logger.info('stopped')
  await Promise.all([stopHeartbeat(), sink.flush()])
  await Promise.allSettled([redis.quit(), subscriber.quit()])
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
