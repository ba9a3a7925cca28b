import http from 'node:http'
import https from 'node:https'
import { got, type Got } from 'got'

/** How one call to a Worker ended, before we decide what it means for the task. */
export type WorkerCallResult =
  | { kind: 'answered'; status: number; body: string }
  /** A stream that began: its chunks went to `onChunk`; `error` says if it broke off. */
  | { kind: 'streamed'; status: number; error?: string }
  | { kind: 'unreachable'; cause: string }
  | { kind: 'timed-out'; cause: string }
  | { kind: 'aborted' }

export interface WorkerCall {
  url: string
  headers: Record<string, string>
  body: string
  signal: AbortSignal
  /** Only for stream mode: called once with the answer's head, then for every chunk. */
  stream?: { onHead(status: number, contentType: string): void; onChunk(chunk: string): void }
}

export type WorkerClient = (call: WorkerCall) => Promise<WorkerCallResult>

/** One keep-alive connection pool to all Workers, shared by every task of this process. */
export function createWorkerClient(timeoutMs: number): WorkerClient {
  const client: Got = got.extend({
    agent: {
      http: new http.Agent({ keepAlive: true, maxSockets: 1024 }),
      https: new https.Agent({ keepAlive: true, maxSockets: 1024 }),
    },
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    timeout: { request: timeoutMs },
  })

  const failure = (error: unknown, signal: AbortSignal): WorkerCallResult => {
    if (signal.aborted) return { kind: 'aborted' }
    const code = (error as { code?: string }).code
    if (code === 'ETIMEDOUT') return { kind: 'timed-out', cause: `Worker timed out after ${timeoutMs} ms` }
    return { kind: 'unreachable', cause: `Worker unreachable: ${code ?? (error as Error).message}` }
  }

  return async call => {
    const options = { headers: { 'content-type': 'application/json', ...call.headers }, body: call.body, signal: call.signal }
    if (!call.stream) {
      try {
        const response = await client.post(call.url, options)
        return { kind: 'answered', status: response.statusCode, body: response.body }
      } catch (error) {
        return failure(error, call.signal)
      }
    }
    const { onHead, onChunk } = call.stream
    return new Promise<WorkerCallResult>(resolve => {
      let started = false
      let status = 0
      const buffered: Buffer[] = []
      const request = client.stream.post(call.url, options)
      request.on('response', (response: http.IncomingMessage) => {
        status = response.statusCode ?? 0
        const type = String(response.headers['content-type'] ?? '')
        // Only a 200 text answer is a stream; anything else is an ordinary answer (an error, usually).
        started = status === 200 && !type.startsWith('application/json')
        if (started) onHead(status, type || 'text/plain')
      })
      request.on('data', (chunk: Buffer) => (started ? onChunk(chunk.toString('utf8')) : buffered.push(chunk)))
      request.on('end', () =>
        resolve(started ? { kind: 'streamed', status } : { kind: 'answered', status, body: Buffer.concat(buffered).toString('utf8') }),
      )
      request.on('error', error => {
        if (started) resolve({ kind: 'streamed', status, error: call.signal.aborted ? 'client went away' : `stream broke off: ${error.message}` })
        else resolve(failure(error, call.signal))
      })
    })
  }
}
