import WebSocket from 'ws'
import { SlotMessage } from '@slotway/shared'

export interface SlotStreamOptions {
  lbAuthKey: string
  heartbeatIntervalMs: number
  heartbeatTimeoutMs: number
}

export interface SlotStreamEvents {
  onMessage(message: SlotMessage): void
  onOpen(): void
  onDown(reason: string): void
}

const MAX_BACKOFF_MS = 10_000

/**
 * The WebSocket a Worker pushes its slot counts on. We authenticate with the LB key as the
 * subprotocol, send `ping` on an interval, and treat silence past the timeout as the Worker
 * being gone: the socket is dropped and reopened with a growing backoff.
 */
export class SlotStream {
  private socket: WebSocket | undefined
  private heartbeat: NodeJS.Timeout | undefined
  private silence: NodeJS.Timeout | undefined
  private reconnect: NodeJS.Timeout | undefined
  private failures = 0
  private closed = false
  private connected = false

  constructor(
    private readonly url: string,
    private readonly options: SlotStreamOptions,
    private readonly events: SlotStreamEvents,
  ) {}

  get isConnected(): boolean {
    return this.connected
  }

  open(): void {
    if (this.closed || this.socket) return
    let socket: WebSocket
    try {
      socket = new WebSocket(this.url, [this.options.lbAuthKey], { handshakeTimeout: this.options.heartbeatTimeoutMs })
    } catch (error) {
      this.down(`cannot open the slot stream: ${(error as Error).message}`)
      return
    }
    this.socket = socket
    socket.on('open', () => {
      this.failures = 0
      this.connected = true
      this.events.onOpen()
      this.heartbeat = setInterval(() => this.ping(), this.options.heartbeatIntervalMs)
      this.ping()
    })
    socket.on('message', (data, isBinary) => {
      if (isBinary) return
      this.alive()
      let parsed: unknown
      try {
        parsed = JSON.parse(data.toString())
      } catch {
        return
      }
      const message = SlotMessage.safeParse(parsed)
      if (message.success) this.events.onMessage(message.data)
    })
    socket.on('close', (code, reason) => {
      const why = code === 4001 ? 'the Worker refused the LB key on its slot stream (4001)' : `slot stream closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`
      this.down(why)
    })
    socket.on('error', error => this.down(`slot stream error: ${error.message}`))
  }

  private ping(): void {
    if (this.socket?.readyState !== WebSocket.OPEN) return
    this.socket.send('ping')
    if (!this.silence) this.silence = setTimeout(() => this.down('slot stream heartbeat missed'), this.options.heartbeatTimeoutMs)
  }

  private alive(): void {
    clearTimeout(this.silence)
    this.silence = undefined
  }

  private down(reason: string): void {
    const socket = this.socket
    if (!socket && !this.connected && this.reconnect) return
    this.socket = undefined
    this.connected = false
    clearInterval(this.heartbeat)
    this.alive()
    socket?.removeAllListeners()
    socket?.on('error', () => undefined)
    socket?.terminate()
    if (this.closed) return
    this.events.onDown(reason)
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.failures++)
    clearTimeout(this.reconnect)
    this.reconnect = setTimeout(() => {
      this.reconnect = undefined
      this.open()
    }, delay)
  }

  close(): void {
    this.closed = true
    clearTimeout(this.reconnect)
    clearInterval(this.heartbeat)
    this.alive()
    const socket = this.socket
    this.socket = undefined
    this.connected = false
    socket?.removeAllListeners()
    socket?.on('error', () => undefined)
    socket?.terminate()
  }
}
