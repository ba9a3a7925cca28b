import http from 'node:http'
import https from 'node:https'
import { got, type Got } from 'got'

/** How one call to a Worker ended, before we decide what it means for the task. */
export type WorkerCallResult =
  | { kind: 'answered'; status: number; body: string }
  | { kind: 'unreachable'; cause: string }
  | { kind: 'timed-out'; cause: string }

/** One keep-alive connection pool to all Workers, shared by every task of this process. */
export function createWorkerClient(timeoutMs: number): (url: string, headers: Record<string, string>, body: string, signal?: AbortSignal) => Promise<WorkerCallResult> {
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

  return async (url, headers, body, signal) => {
    try {
      const response = await client.post(url, {
        headers: { 'content-type': 'application/json', ...headers },
        body,
        ...(signal ? { signal } : {}),
      })
      return { kind: 'answered', status: response.statusCode, body: response.body }
    } catch (error) {
      const code = (error as { code?: string }).code
      if (code === 'ETIMEDOUT') return { kind: 'timed-out', cause: `Worker timed out after ${timeoutMs} ms` }
      return { kind: 'unreachable', cause: `Worker unreachable: ${code ?? (error as Error).message}` }
    }
  }
}
