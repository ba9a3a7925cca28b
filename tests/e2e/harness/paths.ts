import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'

export const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)))

export const serviceEntry = (service: 'gateway' | 'dispatcher' | 'discovery' | 'demo-worker') =>
  resolve(repoRoot, 'apps', service, 'dist', 'index.js')

/** The foreign Worker the suite must also pass against, when it is present beside the project. */
export const referenceWorkerPath = process.env.REFERENCE_WORKER ?? resolve(repoRoot, '..', 'shared', 'workers', 'reference-worker.mjs')

export type WorkerKind = 'demo' | 'reference'

/** Every Worker implementation this run can test against. */
export function workerKinds(): WorkerKind[] {
  const available: WorkerKind[] = existsSync(referenceWorkerPath) ? ['demo', 'reference'] : ['demo']
  // TEST_WORKERS=reference (or demo) narrows a run to one implementation.
  const wanted = process.env.TEST_WORKERS?.split(',')
  return wanted ? available.filter(kind => wanted.includes(kind)) : available
}
