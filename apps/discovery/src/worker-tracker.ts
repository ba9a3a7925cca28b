import type { ServiceState, SlotCounts, WorkerHealth, WorkerState, WorkerStatus } from '@slotway/shared'
import { poolId, workerIdForUrl } from '@slotway/shared'
import { pollHealth, type HealthPollOptions } from './health-poller.js'
import { SlotStream, type SlotStreamOptions } from './slot-stream.js'

export interface TrackerOptions {
  health: HealthPollOptions
  stream: SlotStreamOptions
  pollIntervalMs: number
}

/**
 * Everything discovery knows about one Worker: its last health answer and its live slot stream,
 * combined into the one WorkerState the rest of Slotway routes by.
 */
export class WorkerTracker {
  readonly id: string
  private health: WorkerHealth | undefined
  /** The last good health answer, kept while the Worker is away: its pool stays known, so tasks for it wait. */
  private lastKnown: WorkerHealth | undefined
  private problem: { status: WorkerStatus; reason: string } | undefined = { status: 'unknown', reason: 'not polled yet' }
  private stream: SlotStream | undefined
  private streamUrl: string | undefined
  /** Why the stream is down, once it has failed; undefined while the first connection is still being made. */
  private streamDown: string | undefined
  private live: { status: 'ready' | 'maintenance'; slots: SlotCounts; services: ServiceState[] | undefined } | undefined
  private lastSeenAt: number | undefined
  private timer: NodeJS.Timeout | undefined
  private polling = false
  private stopped = false

  constructor(
    readonly url: string,
    private readonly options: TrackerOptions,
    private readonly onState: (state: WorkerState) => void,
    /** Slot counts alone changed; optional fast path. */
    private readonly onSlots?: (workerId: string, slots: SlotCounts) => void,
  ) {
    this.id = workerIdForUrl(url)
  }

  start(): void {
    void this.poll()
    this.timer = setInterval(() => void this.poll(), this.options.pollIntervalMs)
  }

  async poll(): Promise<void> {
    if (this.polling || this.stopped) return
    this.polling = true
    try {
      const result = await pollHealth(this.url, this.options.health)
      if (this.stopped) return
      if (result.kind === 'healthy') {
        this.health = result.health
        this.lastKnown = result.health
        this.problem = undefined
        this.lastSeenAt = Date.now()
        this.live = { status: result.health.status, slots: result.health.slots, services: result.health.services }
        this.followStream(result.health.websocketPort)
      } else {
        this.health = undefined
        this.live = undefined
        this.problem = { status: result.kind === 'invalid' ? 'invalid' : 'offline', reason: result.reason }
        this.dropStream()
      }
      this.emit()
    } finally {
      this.polling = false
    }
  }

  private followStream(websocketPort: number): void {
    const base = new URL(this.url)
    const url = `${base.protocol === 'https:' ? 'wss' : 'ws'}://${base.hostname}:${websocketPort}`
    if (this.stream && this.streamUrl === url) return
    this.dropStream()
    this.streamUrl = url
    this.stream = new SlotStream(url, this.options.stream, {
      onOpen: () => {
        this.streamDown = undefined
        // A stream that (re)opens may be a restarted Worker: read its health again before routing to it.
        void this.poll()
      },
      onDown: reason => {
        this.streamDown = reason
        this.emit()
      },
      onMessage: message => {
        this.lastSeenAt = Date.now()
        const before = this.live
        const services = message.services ?? before?.services
        this.live = { status: message.status, slots: message.slots, services }
        // Most messages only move slot counts (one per task start and end): take the short path.
        const sameState = before !== undefined && before.status === message.status && before.slots.limit === message.slots.limit &&
          (message.services === undefined || JSON.stringify(message.services) === JSON.stringify(before.services))
        if (sameState && this.onSlots) this.onSlots(this.id, message.slots)
        else this.emit()
      },
    })
    this.stream.open()
  }

  private dropStream(): void {
    this.stream?.close()
    this.stream = undefined
    this.streamUrl = undefined
    this.streamDown = undefined
  }

  private emit(): void {
    if (!this.stopped) this.onState(this.state())
  }

  state(): WorkerState {
    const base = { id: this.id, url: this.url, changedAt: Date.now(), streamConnected: this.stream?.isConnected ?? false }
    const health = this.health
    if (!health || this.problem) {
      const known = this.problem?.status === 'offline' ? this.lastKnown : undefined
      return {
        ...base,
        status: this.problem?.status ?? 'unknown',
        reason: this.problem?.reason ?? 'not polled yet',
        ...(known ? { group: known.group, contract: known.contract, pool: poolId(known), functions: known.functions } : {}),
        ...(this.lastSeenAt ? { lastSeenAt: this.lastSeenAt } : {}),
      }
    }
    const live = this.live!
    const servicesDown = (live.services ?? []).filter(service => service.state !== 'up')
    let status: WorkerStatus = 'ready'
    let reason: string | undefined
    if (live.status === 'maintenance') {
      status = 'maintenance'
      reason = 'the Worker is in maintenance'
    } else if (servicesDown.length > 0) {
      status = 'degraded'
      reason = `service not up: ${servicesDown.map(service => `${service.name} (${service.state})`).join(', ')}`
    } else if (!base.streamConnected) {
      status = this.streamDown ? 'offline' : 'unknown'
      reason = this.streamDown ?? 'connecting to the slot stream'
    }
    return {
      ...base,
      status,
      ...(reason ? { reason } : {}),
      group: health.group,
      contract: health.contract,
      pool: poolId(health),
      functions: health.functions,
      services: live.services ?? [],
      tags: health.tags,
      slots: live.slots,
      websocketPort: health.websocketPort,
      ...(this.lastSeenAt ? { lastSeenAt: this.lastSeenAt } : {}),
    }
  }

  stop(): void {
    this.stopped = true
    clearInterval(this.timer)
    this.dropStream()
  }
}
