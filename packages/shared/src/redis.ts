import { Redis } from 'ioredis'

/**
 * One connection per role per process. `maxRetriesPerRequest: null` is what BullMQ needs, and it
 * also means commands wait for a reconnect instead of failing while Redis restarts.
 */
export function connectRedis(url: string, name: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    connectionName: name,
    retryStrategy: attempt => Math.min(attempt * 100, 2000),
  })
}
