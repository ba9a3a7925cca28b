import type { Webhook } from './task-request.js'

export const WEBHOOK_TIMEOUT_MS = 30_000

export type WebhookOutcome = { ok: true } | { ok: false; error: string }

/**
 * POSTs the raw result JSON to the webhook, once (a retry could deliver twice to a receiver that
 * is not idempotent). Not tied to the caller's connection: the result is owed to the webhook.
 */
export async function deliverWebhook(hook: Webhook, result: unknown): Promise<WebhookOutcome> {
  try {
    const response = await fetch(hook.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...hook.headers },
      body: JSON.stringify(result),
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    })
    // Drain so the connection can be reused; the receiver's answer itself does not matter.
    await response.body?.cancel().catch(() => {})
    return response.ok ? { ok: true } : { ok: false, error: `Failed to send webhook: ${response.status}` }
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) }
  }
}
