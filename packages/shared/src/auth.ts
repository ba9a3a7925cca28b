import { createHash, timingSafeEqual } from 'node:crypto'

/** Clients and Workers may send `Bearer <key>`; the key is what follows. */
export function stripBearer(value: string | undefined | null): string | undefined {
  if (value == null) return undefined
  const trimmed = value.trim()
  return /^bearer\s+/i.test(trimmed) ? trimmed.replace(/^bearer\s+/i, '') : trimmed
}

/** Constant-time equality: digests first, so neither the content nor the length leaks through timing. */
export function keysMatch(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/** `keysMatch` against a fixed key, its digest computed once (a key checked on every request). */
export function keyMatcher(expected: string): (given: string | undefined) => boolean {
  const want = createHash('sha256').update(expected).digest()
  return given => given !== undefined && timingSafeEqual(createHash('sha256').update(given).digest(), want)
}
