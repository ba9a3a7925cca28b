import { z } from 'zod'

export const TASK_MODES = ['sync', 'async', 'stream', 'webhook'] as const
export const MAX_PRIORITY = 2097152

/** Group names become part of queue names and Redis keys, so keep them to a safe alphabet. */
export const groupName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 letters, digits, "_", "." or "-"')

const plainObject = z.record(z.string(), z.unknown())

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })

/** The body a client POSTs to the gateway's /task. */
export const TaskRequest = z.object({
  group: groupName.default('default'),
  function: z.string().min(1).max(128),
  contract: z.number().finite(),
  priority: z.number().int().min(1).max(MAX_PRIORITY).optional(),
  input: plainObject.default({}),
  mode: z.enum(TASK_MODES).default('sync'),
  webhook: z
    .object({
      url: httpUrl,
      headers: z.record(z.string(), z.string()).default({}),
    })
    .optional(),
}).refine(task => task.mode !== 'webhook' || task.webhook !== undefined, {
  path: ['webhook', 'url'],
  message: 'is required when mode is "webhook"',
})
export type TaskRequest = z.infer<typeof TaskRequest>

/** What the gateway stores in the queue: the request, plus what the dispatcher needs to run and answer it. */
export interface TaskJobData {
  group: string
  function: string
  contract: number
  priority: number
  input: Record<string, unknown>
  mode: TaskRequest['mode']
  webhook?: { url: string; headers: Record<string, string> }
  /** The client's x-wr-auth, sealed (see secret-box.ts) so Redis and Bull Board never show it. */
  sealedWorkerAuth: string
  /** The gateway replica waiting for the answer, for sync tasks. */
  replyTo?: string
  submittedAt: number
  /** The Worker the previous attempt failed on; the next attempt prefers another. */
  lastWorkerId?: string
  /** Attempts already made before the task was queued (by a gateway's direct run). */
  attemptsBefore?: number
  /** When the waiting client's TASK_TIMEOUT ends (ms epoch); past it, retrying serves nobody. */
  clientDeadline?: number
}

/** What a finished task leaves behind: the Worker's HTTP status and its body as sent. */
export interface TaskOutcome {
  status: number
  /** Raw JSON text, passed to the client unchanged. */
  body: string
  workerId?: string
}

/** Turns zod's issues into one sentence that names the bad field. */
export function describeIssues(error: z.ZodError): { error: string; issues: { path: string; message: string }[] } {
  const issues = error.issues.map(issue => ({
    path: issue.path.map(String).join('.') || '(body)',
    message: issue.message,
  }))
  return {
    error: `Invalid task: ${issues.map(i => `${i.path}: ${i.message}`).join('; ')}`,
    issues,
  }
}

/** A task that failed for good keeps its outcome in BullMQ's failedReason, so a late reader can answer exactly. */
export function encodeFailure(outcome: TaskOutcome): string {
  return JSON.stringify(outcome)
}

export function decodeFailure(failedReason: string | undefined): TaskOutcome {
  try {
    const parsed = JSON.parse(failedReason ?? '') as TaskOutcome
    if (typeof parsed.status === 'number' && typeof parsed.body === 'string') return parsed
  } catch {
    // Not ours (e.g. BullMQ's own "job stalled more than allowable limit").
  }
  return { status: 502, body: JSON.stringify({ success: false, error: failedReason ?? 'task failed' }) }
}
