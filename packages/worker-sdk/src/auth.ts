import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/** A header's value, first one if repeated. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** Workers accept `Bearer <key>` anywhere a key goes. */
export function stripBearer(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  return /^bearer /i.test(value) ? value.slice(7).trim() : value
}

const digest = (key: string): Buffer => createHash('sha256').update(key).digest()
/** The digests of the keys we expect (a Worker has two), computed once instead of on every request. */
const expectedDigests = new Map<string, Buffer>()

/** Constant-time key comparison: sha256 digests have equal length, so neither content nor length leaks. */
export function keyMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false
  let wanted = expectedDigests.get(expected)
  if (!wanted) {
    if (expectedDigests.size > 16) expectedDigests.clear()
    expectedDigests.set(expected, (wanted = digest(expected)))
  }
  return timingSafeEqual(digest(given), wanted)
}

export interface Keys {
  authKey: string
  lbAuthKey: string
}

export interface Presented {
  /** `Authorization`, Bearer stripped. */
  auth: string | undefined
  /** `x-lb-auth`, Bearer stripped. */
  lb: string | undefined
}

export function presentedKeys(req: IncomingMessage): Presented {
  return { auth: stripBearer(header(req, 'authorization')), lb: stripBearer(header(req, 'x-lb-auth')) }
}

/** POST /task, /on, /off: with `x-lb-auth` present both keys must match, without it AUTH_KEY alone. */
export function mayRunTasks(p: Presented, keys: Keys): boolean {
  const authOk = keyMatches(p.auth, keys.authKey)
  const lbOk = keyMatches(p.lb, keys.lbAuthKey)
  return p.lb !== undefined ? authOk && lbOk : authOk
}

/** GET /health full document: either header carrying either key. */
export function mayReadHealth(p: Presented, keys: Keys): boolean {
  // Every comparison runs (no short-circuit), so timing does not tell which one matched.
  const results = [p.auth, p.lb].flatMap(k => [keyMatches(k, keys.authKey), keyMatches(k, keys.lbAuthKey)])
  return results.includes(true)
}

/** GET /logs: AUTH_KEY in `Authorization` or LB_AUTH_KEY in `x-lb-auth`, as the engine does. */
export function mayReadLogs(p: Presented, keys: Keys): boolean {
  const authOk = keyMatches(p.auth, keys.authKey)
  const lbOk = keyMatches(p.lb, keys.lbAuthKey)
  return authOk || lbOk
}
