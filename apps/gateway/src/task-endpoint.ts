import type { IncomingMessage, ServerResponse } from 'node:http'
import getRawBody from 'raw-body'
import type { AuthLimiter } from './auth-limiter.js'
import { guardBody } from './body-guard.js'
import { HttpError, sendError } from './http-errors.js'
import { presentedKey } from './require-key.js'
import { isJsonRequest, type TaskSubmitter } from './routes/task.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void
type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void

export interface TaskEndpointOptions {
  submit: TaskSubmitter
  /** Whether a presented key is the LB key (constant time). */
  isLbKey: (given: string | undefined) => boolean
  limiter: AuthLimiter
  bodyLimit: string
  /** The headers every answer carries (helmet's, computed once). */
  headers: [string, string][]
  cors?: Middleware
  log: (message: string, meta: object) => void
}

/**
 * POST /task is every task's way in, so it is answered here, on the bare node:http request,
 * instead of through express's chain of middlewares (helmet's alone is a dozen calls per request).
 * The common case only: anything out of the ordinary — no key or a wrong one, an address being
 * rate-limited, a compressed or non-UTF-8 body, a query string — goes on to `app`, where the same
 * submitter answers it through the ordinary middlewares.
 */
export function taskEndpoint(options: TaskEndpointOptions, app: Handler): Handler {
  const { submit, isLbKey, limiter, bodyLimit, headers, cors, log } = options
  const ordinary = (req: IncomingMessage) =>
    req.method === 'POST' &&
    req.url === '/task' &&
    isJsonRequest(req) &&
    isUtf8(req.headers['content-type']!) &&
    (req.headers['content-encoding'] ?? 'identity').toLowerCase() === 'identity' &&
    !limiter.anyBlocked() &&
    isLbKey(presentedKey(req))

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const text = await getRawBody(req, { limit: bodyLimit, length: req.headers['content-length'], encoding: 'utf8' })
      const body = parseJson(text)
      guardBody(body)
      await submit(req, res, body)
    } catch (error) {
      // As express does: take in the rest of a refused body first, or a client still sending it may never read the answer.
      if (!req.complete) await drained(req)
      sendError(res, error, log)
    }
  }

  return (req, res) => {
    if (!ordinary(req)) return app(req, res)
    for (const [name, value] of headers) res.setHeader(name, value)
    if (!cors) return void handle(req, res)
    cors(req, res, error => (error ? sendError(res, error, log) : void handle(req, res)))
  }
}

/** No charset, or UTF-8: the only one the fast path reads (express answers the others as it always does). */
function isUtf8(contentType: string): boolean {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(contentType)?.[1]
  return charset === undefined || charset.toLowerCase() === 'utf-8'
}

function drained(req: IncomingMessage): Promise<void> {
  return new Promise(resolve => {
    if (req.readableEnded || req.destroyed) return resolve()
    req.once('end', resolve).once('close', resolve).resume()
  })
}

/** JSON as express.json reads it (strict: an object or an array; an empty body is `{}`). */
function parseJson(text: string): unknown {
  if (text.length === 0) return {}
  const first = text.trimStart()[0]
  if (first !== '{' && first !== '[') throw new HttpError(400, 'MALFORMED_JSON', 'request body is not valid JSON')
  try {
    return JSON.parse(text)
  } catch {
    throw new HttpError(400, 'MALFORMED_JSON', 'request body is not valid JSON')
  }
}

/** The headers a helmet middleware sets, read once, so the hot path can set them without it. */
export function headersOf(middleware: Middleware): [string, string][] {
  const captured = new Map<string, string>()
  const res = {
    setHeader: (name: string, value: unknown) => void captured.set(name.toLowerCase(), String(value)),
    removeHeader: (name: string) => void captured.delete(name.toLowerCase()),
    getHeader: (name: string) => captured.get(name.toLowerCase()),
  }
  let done = false
  middleware({ headers: {}, method: 'POST', url: '/task' } as IncomingMessage, res as unknown as ServerResponse, () => (done = true))
  if (!done) throw new Error('the header middleware did not finish at once')
  return [...captured]
}
