import { got } from 'got'
import { WorkerHealth } from '@slotway/shared'

export type HealthResult =
  | { kind: 'healthy'; health: WorkerHealth }
  | { kind: 'invalid'; reason: string }
  | { kind: 'unreachable'; reason: string }

export interface HealthPollOptions {
  lbAuthKey: string
  timeoutMs: number
  retries: number
}

/** Asks one Worker for its full health document, retrying a few times before calling it unreachable. */
export async function pollHealth(url: string, options: HealthPollOptions): Promise<HealthResult> {
  let reason = ''
  for (let attempt = 0; attempt <= options.retries; attempt++) {
    if (attempt > 0) await new Promise(resolve => setTimeout(resolve, 100 * attempt))
    try {
      const response = await got.get(`${url}/health`, {
        headers: { 'x-lb-auth': options.lbAuthKey },
        timeout: { request: options.timeoutMs },
        retry: { limit: 0 },
        throwHttpErrors: false,
        followRedirect: false,
      })
      if (response.statusCode !== 200) {
        reason = `health answered HTTP ${response.statusCode}`
        continue
      }
      let body: unknown
      try {
        body = JSON.parse(response.body)
      } catch {
        return { kind: 'invalid', reason: 'health is not JSON' }
      }
      const parsed = WorkerHealth.safeParse(body)
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!
        const field = issue.path.join('.') || 'body'
        // A short answer means our key was not accepted.
        const short = typeof body === 'object' && body !== null && Object.keys(body).length === 1
        return { kind: 'invalid', reason: short ? 'the Worker did not accept the LB key (short health answer)' : `health field ${field}: ${issue.message}` }
      }
      return { kind: 'healthy', health: parsed.data }
    } catch (error) {
      const code = (error as { code?: string }).code
      reason = code === 'ETIMEDOUT' ? `health timed out after ${options.timeoutMs} ms` : `unreachable: ${code ?? String(error)}`
    }
  }
  return { kind: 'unreachable', reason }
}
