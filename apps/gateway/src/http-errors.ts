import type { ServerResponse } from 'node:http'
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

/** A JSON answer, as express's `res.json` would write it; works on any node response. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendJsonText(res, status, JSON.stringify(body))
}

/** JSON that is text already (a Worker's answer, byte for byte). */
export function sendJsonText(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status
  res.setHeader('content-type', 'application/json; charset=utf-8')
  res.setHeader('content-length', Buffer.byteLength(text))
  res.end(text)
}

export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: `no route for ${req.method} ${req.path}`, code: 'NOT_FOUND' })
}

/** What a failed request is answered with: every error leaves as JSON with an `error` sentence. */
export function errorAnswer(error: unknown): { status: number; body: Record<string, unknown> } | undefined {
  if (error instanceof HttpError) return { status: error.status, body: { error: error.message, code: error.code, ...error.extra } }
  const bodyError = error as { type?: string; status?: number; limit?: number }
  if (bodyError.type === 'entity.too.large') {
    return { status: 413, body: { error: `request body is larger than the limit of ${bodyError.limit} bytes`, code: 'BODY_TOO_LARGE' } }
  }
  if (bodyError.type === 'entity.parse.failed') return { status: 400, body: { error: 'request body is not valid JSON', code: 'MALFORMED_JSON' } }
  if (typeof bodyError.status === 'number' && bodyError.status >= 400 && bodyError.status < 500) {
    return { status: bodyError.status, body: { error: (error as Error).message, code: 'BAD_REQUEST' } }
  }
  return undefined
}

/** Answers `error` as JSON; anything unexpected is logged and becomes a plain 500. */
export function sendError(res: ServerResponse, error: unknown, log: (message: string, meta: object) => void): void {
  if (res.headersSent) return void res.destroy()
  const known = errorAnswer(error)
  if (known) return sendJson(res, known.status, known.body)
  log('request failed', { error: String(error) })
  sendJson(res, 500, { error: 'internal error', code: 'INTERNAL' })
}

export function errorHandler(log: (message: string, meta: object) => void): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => sendError(res, error, log)
}
