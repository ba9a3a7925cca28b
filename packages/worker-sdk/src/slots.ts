// The slot pool: at most `limit` tasks run; the rest wait here in priority order
// (1 = highest, FIFO within one priority), as the deployed engine queues beyond its slots.

interface Waiter {
  priority: number
  grant: () => void
}

export class SlotPool {
  #used = 0
  readonly #waiting: Waiter[] = []

  constructor(
    readonly limit: number,
    private readonly onChange: () => void = () => {},
  ) {}

  get used(): number {
    return this.#used
  }

  get queued(): number {
    return this.#waiting.length
  }

  /**
   * Resolves once a slot is held (the caller must `release()` it). Rejects with the signal's reason
   * if the signal aborts while waiting, and the waiter leaves the queue: nobody is left to answer.
   */
  acquire(priority: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (this.#used < this.limit && this.#waiting.length === 0) {
      this.#used++
      this.onChange()
      return Promise.resolve()
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.#waiting.indexOf(waiter)
        if (index !== -1) {
          this.#waiting.splice(index, 1)
          this.onChange()
        }
        reject(signal?.reason)
      }
      const waiter: Waiter = {
        priority,
        grant: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
      }
      // Insert after every waiter of the same or a higher priority: keeps FIFO within a priority.
      let lo = 0
      let hi = this.#waiting.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (this.#waiting[mid]!.priority <= priority) lo = mid + 1
        else hi = mid
      }
      this.#waiting.splice(lo, 0, waiter)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.onChange()
    })
  }

  /** Hands the slot straight to the next waiter (so `used` stays), or frees it. */
  release(): void {
    const next = this.#waiting.shift()
    if (next) next.grant()
    else this.#used = Math.max(0, this.#used - 1)
    this.onChange()
  }
}
