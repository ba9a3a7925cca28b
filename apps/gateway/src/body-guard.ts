import type { RequestHandler } from 'express'
import { HttpError } from './http-errors.js'

/** Deeper than this is not data anyone means to send, and deep structures are costly to walk. */
export const MAX_BODY_DEPTH = 32

/**
 * Walks a parsed body without recursion (so no input can overflow the stack), refuses deep
 * nesting, and drops `__proto__` keys (JSON.parse makes them own properties; copied onto another
 * object later they would set its prototype).
 */
export function guardBody(body: unknown): void {
  const stack: [unknown, number][] = [[body, 1]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!
    if (value === null || typeof value !== 'object') continue
    if (depth > MAX_BODY_DEPTH) throw new HttpError(400, 'BODY_TOO_DEEP', `the JSON body is nested deeper than ${MAX_BODY_DEPTH} levels`)
    if (Object.hasOwn(value, '__proto__')) delete (value as Record<string, unknown>)['__proto__']
    for (const child of Object.values(value)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1])
  }
}

export const limitDepth: RequestHandler = (req, _res, next) => {
  try {
    guardBody(req.body)
    next()
  } catch (error) {
    next(error)
  }
}
