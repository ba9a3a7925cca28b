import { createHmac } from 'node:crypto'

/** The BullMQ queue of webhook deliveries. Pool queue names always contain '@', so this cannot clash. */
export const WEBHOOK_QUEUE = 'webhooks'

/** What a webhook delivery job carries. */
export interface WebhookJobData {
  taskId: string
  url: string
  /** The client's webhook headers, sealed like Worker keys. */
  sealedHeaders: string
  /** The raw result JSON, exactly what the Worker engine would POST. */
  body: string
}

export const WEBHOOK_TASK_HEADER = 'x-slotway-task-id'
export const WEBHOOK_SIGNATURE_HEADER = 'x-slotway-signature'

/** `sha256=<hex>` of the body, keyed by WEBHOOK_SECRET; receivers recompute it to trust the call. */
export function signWebhook(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}
