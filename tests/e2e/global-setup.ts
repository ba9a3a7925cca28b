import { referenceWorkerPath, workerKinds } from './harness/paths.js'

/** Says which Worker implementations this run covers, so a skipped one is never a surprise. */
export default function announce(): void {
  const kinds = workerKinds()
  const reference = kinds.includes('reference') ? `found at ${referenceWorkerPath}` : `not found at ${referenceWorkerPath} (set REFERENCE_WORKER to include it)`
  console.log(`end-to-end suite: testing against the ${kinds.join(' and ')} Worker${kinds.length > 1 ? 's' : ''}; reference Worker ${reference}`)
}
