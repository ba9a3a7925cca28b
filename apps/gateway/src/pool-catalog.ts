import type { WorkerDirectory, WorkerFunction } from '@slotway/shared'

/**
 * Which pools and functions exist, from the Workers discovery knows (offline ones included:
 * their tasks wait). A miss re-reads the directory once, in case a Worker appeared a moment ago.
 */
export class PoolCatalog {
  constructor(private readonly directory: WorkerDirectory) {}

  /** The function as the pool's Workers declare it, or undefined when none offers it. */
  async lookup(pool: string, fn: string): Promise<WorkerFunction | undefined> {
    const known = this.find(pool, fn)
    if (known) return known
    await this.directory.reload()
    return this.find(pool, fn)
  }

  private find(pool: string, fn: string): WorkerFunction | undefined {
    for (const worker of this.directory.all()) {
      if (worker.pool !== pool || worker.status === 'invalid') continue
      const offered = worker.functions?.find(f => f.name === fn)
      if (offered) return offered
    }
    return undefined
  }
}
