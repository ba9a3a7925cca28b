/** The last `limit` log lines, kept in a fixed ring so logging stays O(1) however busy the Worker is. */
export class RingLog {
  readonly #lines: string[] = []
  #next = 0

  constructor(readonly limit: number) {}

  add(line: string): void {
    const stamped = `[${new Date().toISOString()}] ${line}`
    if (this.#lines.length < this.limit) this.#lines.push(stamped)
    else this.#lines[this.#next] = stamped
    this.#next = (this.#next + 1) % this.limit
  }

  /** Oldest first. */
  lines(): string[] {
    if (this.#lines.length < this.limit) return [...this.#lines]
    return [...this.#lines.slice(this.#next), ...this.#lines.slice(0, this.#next)]
  }
}
