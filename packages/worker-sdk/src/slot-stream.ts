import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, WebSocket } from 'ws'
import { keyMatches } from './auth.js'

// The WebSocket slot stream: the load balancer authenticates with LB_AUTH_KEY as the subprotocol and
// then learns about free slots by push instead of polling /health.

export const UNAUTHORIZED_CLOSE_CODE = 4001
const PUSH_INTERVAL_MS = 1000
/** Slot pushes are at least this far apart; changes in between are merged into the next one. */
const MIN_PUSH_GAP_MS = 2
// A client that stops reading would otherwise make us buffer pushes forever.
const MAX_BUFFERED_BYTES = 1024 * 1024
const CLOSE_GRACE_MS = 500

export interface SlotStreamOptions {
  lbAuthKey: string
  /** The full push: `{status, slots, system, services}`. */
  push: () => unknown
  /** The answer to the text message `ping`: `{status, slots}`. */
  pong: () => unknown
  log: (line: string) => void
}

export class SlotStream {
  readonly #server: http.Server
  readonly #wss: WebSocketServer
  /** Authenticated sockets, the ones that get pushes. */
  readonly #clients = new Set<WebSocket>()
  /** Every open socket, rejected ones included, so close() can end them all. */
  readonly #sockets = new Set<WebSocket>()
  #timer: NodeJS.Timeout | undefined

  constructor(private readonly options: SlotStreamOptions) {
    // Plain HTTP on the WebSocket port gets 426, as the engine answers.
    this.#server = http.createServer((_req, res) => {
      res.writeHead(426)
      res.end()
    })
    this.#wss = new WebSocketServer({
      server: this.#server,
      maxPayload: 64 * 1024,
      clientTracking: false,
      // Pick the LB key when offered. Otherwise still echo the client's first choice: a handshake without
      // the asked-for subprotocol fails on the client side, and it would never see the 4001 close code.
      handleProtocols: protocols => {
        let chosen: string | false = false
        for (const protocol of protocols) {
          if (keyMatches(protocol, options.lbAuthKey)) chosen = protocol
        }
        return chosen !== false ? chosen : (protocols.values().next().value ?? false)
      },
    })
    this.#wss.on('connection', socket => this.#accept(socket))
  }

  #accept(socket: WebSocket): void {
    socket.on('error', () => {})
    this.#sockets.add(socket)
    socket.on('close', () => this.#sockets.delete(socket))
    if (!keyMatches(socket.protocol, this.options.lbAuthKey)) {
      this.options.log('websocket rejected: bad subprotocol')
      socket.close(UNAUTHORIZED_CLOSE_CODE, 'Unauthorized')
      return
    }
    this.#clients.add(socket)
    socket.on('close', () => this.#clients.delete(socket))
    socket.on('message', (data, isBinary) => {
      if (!isBinary && data.toString() === 'ping') this.#send(socket, JSON.stringify(this.options.pong()))
    })
    // The first push right away, so the load balancer need not wait a tick to know our slots.
    this.#send(socket, JSON.stringify(this.options.push()))
  }

  #send(socket: WebSocket, text: string): void {
    if (socket.readyState !== WebSocket.OPEN) return
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      socket.terminate()
      return
    }
    socket.send(text)
  }

  #pending: NodeJS.Timeout | undefined
  #lastPushAt = 0

  /**
   * Pushes the current state to every authenticated client. Slot changes close together (a burst
   * of tasks starting or ending) are sent as one message with the latest counts, at most one per
   * MIN_PUSH_GAP_MS: just as current for the load balancer, and far fewer messages under load —
   * at thousands of tasks a second, one per change would cost the Worker and its load balancer
   * more than the tasks themselves.
   */
  broadcast(): void {
    if (this.#clients.size === 0 || this.#pending) return
    const wait = Math.max(0, this.#lastPushAt + MIN_PUSH_GAP_MS - Date.now())
    this.#pending = setTimeout(() => {
      this.#pending = undefined
      this.#lastPushAt = Date.now()
      this.#pushNow()
    }, wait)
  }

  #lastPushed = ''

  #pushNow(): void {
    if (this.#clients.size === 0) return
    const text = JSON.stringify(this.options.push())
    // Slots that went up and back down within the turn: nothing to tell (the periodic push still goes, its uptime moved).
    if (text === this.#lastPushed) return
    this.#lastPushed = text
    for (const socket of this.#clients) this.#send(socket, text)
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject)
        this.#timer = setInterval(() => this.broadcast(), PUSH_INTERVAL_MS)
        this.#timer.unref()
        resolve((this.#server.address() as AddressInfo).port)
      })
    })
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    clearTimeout(this.#pending)
    this.#pending = undefined
    const sockets = [...this.#sockets]
    this.#clients.clear()
    // Say goodbye (1001 going away), then cut whoever has not answered the close handshake.
    // A rejected socket already sent 4001; close() on it is a no-op and the timer cuts it.
    await Promise.all(
      sockets.map(
        socket =>
          new Promise<void>(resolve => {
            if (socket.readyState === WebSocket.CLOSED) return resolve()
            const timer = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS)
            socket.once('close', () => {
              clearTimeout(timer)
              resolve()
            })
            socket.close(1001, 'Worker shutting down')
          }),
      ),
    )
    await new Promise<void>(resolve => this.#wss.close(() => resolve()))
    if (!this.#server.listening) return
    await new Promise<void>(resolve => {
      this.#server.close(() => resolve())
      this.#server.closeAllConnections()
    })
  }
}
