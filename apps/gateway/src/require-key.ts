import type { IncomingMessage } from 'node:http'
import type { RequestHandler } from 'express'
import { keyMatcher, stripBearer } from '@slotway/shared'
import type { AuthLimiter } from './auth-limiter.js'
import { HttpError } from './http-errors.js'

/** The key a request presents: `Authorization: <key>`, `Bearer <key>`, or Basic with the key as password (browsers). */
export function presentedKey(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization
  if (!header) return undefined
  const basic = /^basic\s+(.+)$/i.exec(header.trim())
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8')
    return decoded.slice(decoded.indexOf(':') + 1)
  }
  return stripBearer(header)
}

export interface KeyCheckOptions {
  keys: string[]
  limiter: AuthLimiter
  /** Ask a browser for the key (Basic), for pages such as Bull Board. */
  browser?: boolean
}

/** Lets a request through only if it carries one of `keys`; failed attempts are rate-limited per address. */
export function requireKey({ keys, limiter, browser = false }: KeyCheckOptions): RequestHandler {
  const matchers = keys.map(keyMatcher)
  return async (req, res, next) => {
    const address = req.ip ?? 'unknown'
    const wait = limiter.retryAfter(address)
    if (wait > 0) {
      res.setHeader('retry-after', String(wait))
      return next(new HttpError(429, 'TOO_MANY_FAILED_AUTHENTICATIONS', `too many failed authentications from this address; retry in ${wait} s`))
    }
    const given = presentedKey(req)
    // Compare against every key, always, so the time taken says nothing about which one matched.
    const matches = matchers.map(match => match(given)).includes(true)
    if (matches) return next()
    const blockedFor = await limiter.fail(address)
    if (blockedFor > 0) {
      res.setHeader('retry-after', String(blockedFor))
      return next(new HttpError(429, 'TOO_MANY_FAILED_AUTHENTICATIONS', `too many failed authentications from this address; retry in ${blockedFor} s`))
    }
    if (browser) res.setHeader('www-authenticate', 'Basic realm="Slotway", charset="UTF-8"')
    next(new HttpError(401, 'UNAUTHORIZED', 'Unauthorized: the Authorization header must carry the LB key'))
  }
}
