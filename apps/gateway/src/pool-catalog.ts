import type { WorkerDirectory } from '@slotway/shared'

/**
 * Which pools and functions exist, from the Workers discovery knows (offline ones included:
 * their tasks wait). A miss re-reads the directory once, in case a Worker appeared a moment ago.
 */
export class PoolCatalog {
  constructor(private readonly directory: WorkerDirectory) {}

  async offers(pool: string, fn: string): Promise<boolean> {
    if (this.knownNow(pool, fn)) return true
    await this.directory.reload()
    return this.knownNow(pool, fn)
  }

  private knownNow(pool: string, fn: string): boolean {
    return this.directory
      .all()
      .some(worker => worker.pool === pool && worker.status !== 'invalid' && (worker.functions ?? []).some(f => f.name === fn))
  }
}
