import type { WorkerFunction, ServiceState, SlotCounts } from './worker-health.js'
import { createHash } from 'node:crypto'

/**
 * - `ready`: healthy, stream connected: may take tasks.
 * - `maintenance`: says so itself.
 * - `degraded`: reachable, but a service it depends on is not up.
 * - `offline`: health failed, or the slot stream lost its heartbeat.
 * - `invalid`: answered, but with something we cannot route to (see `reason`).
 * - `unknown`: registered, not yet polled.
 */
export type WorkerStatus = 'ready' | 'maintenance' | 'degraded' | 'offline' | 'invalid' | 'unknown'

/** What discovery publishes about one Worker; everyone else reads only this. */
export interface WorkerState {
  id: string
  url: string
  status: WorkerStatus
  reason?: string
  group?: string
  contract?: number
  pool?: string
  functions?: WorkerFunction[]
  services?: ServiceState[]
  tags?: Record<string, unknown>
  slots?: SlotCounts
  websocketPort?: number
  streamConnected: boolean
  lastSeenAt?: number
  changedAt: number
}

/** Stable and key-safe: the same URL always gives the same id. */
export function workerIdForUrl(url: string): string {
  return createHash('sha256').update(normalizeWorkerUrl(url)).digest('hex').slice(0, 12)
}

/** `http://Host:80/` and `http://host` are one Worker. */
export function normalizeWorkerUrl(url: string): string {
  const parsed = new URL(url)
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`not an http(s) URL: ${url}`)
  parsed.hash = ''
  parsed.search = ''
  return parsed.toString().replace(/\/+$/, '')
}
