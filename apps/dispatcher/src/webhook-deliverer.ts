import { Worker as QueueWorker } from 'bullmq'
import type { Redis } from 'ioredis'
import { got } from 'got'
import {
  WEBHOOK_QUEUE,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TASK_HEADER,
  signWebhook,
  type Logger,
  type SecretBox,
  type WebhookJobData,
} from '@slotway/shared'

export interface WebhookDelivererOptions {
  connection: Redis
  bullPrefix: string
  secretBox: SecretBox
  secret: string | undefined
  timeoutMs: number
  logger: Logger
}

/**
 * Delivers webhook tasks' results: one POST per delivery job, retried with backoff by BullMQ
 * (a failed or non-2xx answer throws), so a delivery survives a dispatcher restart.
 */
export function startWebhookDeliverer(options: WebhookDelivererOptions): QueueWorker<WebhookJobData> {
  const worker = new QueueWorker<WebhookJobData>(
    WEBHOOK_QUEUE,
    async job => {
      const { taskId, url, sealedHeaders, body } = job.data
      const headers: Record<string, string> = {
        ...(JSON.parse(options.secretBox.open(sealedHeaders)) as Record<string, string>),
        'content-type': 'application/json',
        [WEBHOOK_TASK_HEADER]: taskId,
      }
      if (options.secret) headers[WEBHOOK_SIGNATURE_HEADER] = signWebhook(options.secret, body)
      const response = await got.post(url, { headers, body, timeout: { request: options.timeoutMs }, retry: { limit: 0 }, throwHttpErrors: false, followRedirect: false })
      if (response.statusCode < 200 || response.statusCode >= 300) throw new Error(`webhook answered HTTP ${response.statusCode}`)
      return { status: response.statusCode, deliveredAt: Date.now() }
    },
    { connection: options.connection, prefix: options.bullPrefix, concurrency: 32 },
  )
  worker.on('failed', (job, error) =>
    options.logger.warn('webhook delivery failed', { taskId: job?.data.taskId, attempt: job?.attemptsMade, error: error.message }),
  )
  worker.on('error', error => options.logger.warn('webhook queue error', { error: String(error) }))
  return worker
}
