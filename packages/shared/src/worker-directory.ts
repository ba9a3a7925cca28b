import type { Redis } from 'ioredis'
import type { RedisKeys } from './keys.js'
import type { WorkerState } from './worker-state.js'

/**
 * A read-only, always-current copy of the Worker states that discovery publishes.
 * Gateways and dispatchers use it instead of calling Workers. It reloads on every change
 * message and also on a timer, since pub/sub forgets messages sent while we were disconnected.
 */
export class WorkerDirectory {
  private states = new Map<string, WorkerState>()
  private listeners = new Set<() => void>()
  private timer: NodeJS.Timeout | undefined
  private reloading: Promise<void> | undefined
  private reloadAgain = false

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly keys: RedisKeys,
    private readonly refreshIntervalMs = 5000,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string) => {
      if (channel === this.keys.workersChanged) void this.reload()
    })
    // After a reconnect the subscription is restored by ioredis, but messages in between are lost.
    this.subscriber.on('ready', () => void this.reload())
    await this.subscriber.subscribe(this.keys.workersChanged)
    await this.reload()
    this.timer = setInterval(() => void this.reload(), this.refreshIntervalMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  all(): WorkerState[] {
    return [...this.states.values()]
  }

  get(id: string): WorkerState | undefined {
    return this.states.get(id)
  }

  /** Workers of a pool that may take a task now. */
  readyInPool(pool: string): WorkerState[] {
    return this.all().filter(state => state.pool === pool && state.status === 'ready')
  }

  pools(): Set<string> {
    return new Set(this.all().flatMap(state => (state.pool ? [state.pool] : [])))
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Coalesces bursts of change messages into at most one reload in flight plus one after it. */
  reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true
      return this.reloading
    }
    this.reloading = (async () => {
      try {
        do {
          this.reloadAgain = false
          const raw = await this.redis.hgetall(this.keys.workers)
          const next = new Map<string, WorkerState>()
          for (const [id, json] of Object.entries(raw)) next.set(id, JSON.parse(json) as WorkerState)
          this.states = next
          for (const listener of this.listeners) listener()
        } while (this.reloadAgain)
      } catch {
        // Redis is away; the timer or the next 'ready' tries again.
      } finally {
        this.reloading = undefined
      }
    })()
    return this.reloading
  }
}
