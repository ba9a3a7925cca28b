import type { TaskOutcome } from './task.js'
import type { WorkerCallResult } from './worker-client.js'

// One reading of a Worker's answer, for every place that calls Workers (dispatchers, and gateways
// on the direct path), so a given answer always means the same thing.

/** What a Worker's answer means for the task. */
export type Verdict =
  | { kind: 'done'; outcome: TaskOutcome }
  /** The Worker refused the task itself (4xx), or the client left: never retried. */
  | { kind: 'rejected'; outcome: TaskOutcome }
  /** Worth another attempt, preferably elsewhere. */
  | { kind: 'retry'; status: number; cause: string }

export function judgeWorkerAnswer(result: WorkerCallResult): Verdict {
  switch (result.kind) {
    case 'unreachable':
      return { kind: 'retry', status: 502, cause: result.cause }
    case 'timed-out':
      return { kind: 'retry', status: 504, cause: result.cause }
    case 'too-large':
      return { kind: 'rejected', outcome: { status: 502, body: JSON.stringify({ success: false, error: result.cause }) } }
    case 'aborted':
      return { kind: 'rejected', outcome: { status: 499, body: JSON.stringify({ success: false, error: 'the client went away' }) } }
    case 'streamed':
      // Chunks already reached the client: a broken stream cannot be retried without repeating them.
      return result.error
        ? { kind: 'rejected', outcome: { status: 502, body: JSON.stringify({ success: false, error: result.error }) } }
        : { kind: 'done', outcome: { status: result.status, body: '' } }
    case 'answered':
      if (result.status >= 200 && result.status < 300) return { kind: 'done', outcome: { status: result.status, body: result.body } }
      if (result.status >= 400 && result.status < 500) return { kind: 'rejected', outcome: { status: result.status, body: result.body } }
      // Redirects and other oddities are no answer of the protocol.
      if (result.status < 500) return { kind: 'rejected', outcome: { status: 502, body: JSON.stringify({ success: false, error: `the Worker answered HTTP ${result.status}` }) } }
      return { kind: 'retry', status: result.status, cause: workerError(result.body) ?? `Worker answered ${result.status}` }
  }
}

function workerError(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown }
    return typeof parsed.error === 'string' ? parsed.error : undefined
  } catch {
    return undefined
  }
}

