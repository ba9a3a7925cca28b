import { HttpError } from './http-errors.js'

/** A Redis that accepts connections but does not answer must not hold a client forever. */
export const REDIS_ANSWER_TIMEOUT_MS = 5000

/** Rejects with a 503 HttpError when `promise` takes longer than `ms`; the promise itself goes on. */
export function withTimeout<T>(promise: Promise<T>, ms = REDIS_ANSWER_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(503, 'QUEUE_UNAVAILABLE', `Redis did not answer within ${ms} ms; try again shortly`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
