import type { ErrorRequestHandler, RequestHandler } from 'express'

/** An error with the HTTP status it should be answered with and a stable code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message)
  }
}

export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: `no route for ${req.method} ${req.path}`, code: 'NOT_FOUND' })
}

/** Every error leaves as JSON with an `error` sentence; nothing else reaches the client. */
export function errorHandler(log: (message: string, meta: object) => void): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    if (error instanceof HttpError) {
      res.status(error.status).json({ error: error.message, code: error.code, ...error.extra })
      return
    }
    const bodyError = error as { type?: string; status?: number; limit?: number }
    if (bodyError.type === 'entity.too.large') {
      res.status(413).json({ error: `request body is larger than the limit of ${bodyError.limit} bytes`, code: 'BODY_TOO_LARGE' })
      return
    }
    if (bodyError.type === 'entity.parse.failed') {
      res.status(400).json({ error: 'request body is not valid JSON', code: 'MALFORMED_JSON' })
      return
    }
    if (typeof bodyError.status === 'number' && bodyError.status >= 400 && bodyError.status < 500) {
      res.status(bodyError.status).json({ error: (error as Error).message, code: 'BAD_REQUEST' })
      return
    }
    log('request failed', { error: String(error) })
    res.status(500).json({ error: 'internal error', code: 'INTERNAL' })
  }
}
