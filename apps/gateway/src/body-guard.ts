import type { RequestHandler } from 'express'
import { HttpError } from './http-errors.js'

/** Deeper than this is not data anyone means to send, and deep structures are costly to walk. */
export const MAX_BODY_DEPTH = 32

/** JSON.parse reviver: a `__proto__` key is dropped, so it can never set a prototype further on. */
export function dropPrototypeKeys(key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value
}

/** Walks the parsed body without recursion (so no input can overflow the stack) and refuses deep nesting. */
export const limitDepth: RequestHandler = (req, _res, next) => {
  const stack: [unknown, number][] = [[req.body, 1]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!
    if (value === null || typeof value !== 'object') continue
    if (depth > MAX_BODY_DEPTH) return next(new HttpError(400, 'BODY_TOO_DEEP', `the JSON body is nested deeper than ${MAX_BODY_DEPTH} levels`))
    for (const child of Object.values(value)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1])
  }
  next()
}
