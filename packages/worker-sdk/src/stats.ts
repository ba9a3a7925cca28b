// Counters behind the test-only GET /stats (same shape as the reference Worker), which lets
// tests check from outside how many tasks ran at once, queued, and in which order they started.

export interface StartedTask {
  function: string
  tag: unknown
  priority: number
}

export interface StatsDocument {
  maxUsed: number
  maxQueued: number
  received: number
  started: StartedTask[]
  used: number
  queued: number
}

export class TaskStats {
  maxUsed = 0
  maxQueued = 0
  received = 0
  readonly started: StartedTask[] = []

  /** `keepStarted` is off unless /stats is exposed, so a production Worker does not grow this list forever. */
  constructor(private readonly keepStarted: boolean) {}

  observe(used: number, queued: number): void {
    this.maxUsed = Math.max(this.maxUsed, used)
    this.maxQueued = Math.max(this.maxQueued, queued)
  }

  start(name: string, input: object | undefined, priority: number): void {
    if (!this.keepStarted) return
    const tag = input !== undefined && Object.hasOwn(input, 'tag') ? (input as Record<string, unknown>).tag : undefined
    this.started.push({ function: name, tag: tag ?? null, priority })
  }

  document(used: number, queued: number): StatsDocument {
    return { maxUsed: this.maxUsed, maxQueued: this.maxQueued, received: this.received, started: [...this.started], used, queued }
  }
}
