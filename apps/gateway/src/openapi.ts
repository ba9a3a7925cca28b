import { z } from 'zod'
import { TaskRequest } from '@slotway/shared'

// The gateway's OpenAPI document. Request bodies come from the same zod schemas that validate them,
// so the document cannot drift from what the gateway accepts.

const error = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
const json = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } })
const keyed = { security: [{ lbKey: [] }] }
const authErrors = { 401: error, 429: error }
const taskId = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }
const workerId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } }

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'Slotway gateway', version: '0.1.0', description: 'Routes tasks to HTTP Workers with free slots; queues the rest in Redis.' },
    components: {
      securitySchemes: {
        lbKey: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'LB_AUTH_KEY, optionally as "Bearer <key>"' },
      },
      schemas: {
        TaskRequest: z.toJSONSchema(TaskRequest, { io: 'input', unrepresentable: 'any' }),
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' }, code: { type: 'string' } } },
      },
    },
    paths: {
      '/health': {
        get: { summary: 'Health; with the LB key, Workers and services too', responses: { 200: json('Ready'), 503: json('Redis unreachable') } },
      },
      '/task': {
        post: {
          ...keyed,
          summary: 'Submit a task',
          parameters: [
            { name: 'x-wr-auth', in: 'header', required: true, schema: { type: 'string' }, description: "The Worker's AUTH_KEY" },
            { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 } },
          ],
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/TaskRequest' } } } },
          responses: {
            200: json("The Worker's answer (sync), or its text stream (stream)"),
            202: json('Queued (async, webhook)'),
            400: error, ...authErrors, 404: error, 409: error, 413: error, 415: error, 500: json('All attempts failed'),
            502: json('Worker unreachable'), 503: error, 504: error,
          },
        },
      },
      '/task/{id}': {
        get: { ...keyed, summary: "A task's state and result", parameters: [taskId], responses: { 200: json('The task'), 400: error, ...authErrors, 404: error } },
        delete: { ...keyed, summary: 'Cancel a task that has not started', parameters: [taskId], responses: { 200: json('Cancelled'), 400: error, ...authErrors, 404: error, 409: error } },
      },
      '/workers': {
        get: { ...keyed, summary: 'The Worker registry', responses: { 200: json('Workers'), ...authErrors } },
        post: {
          ...keyed,
          summary: 'Register a Worker',
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['url'], properties: { url: { type: 'string', format: 'uri' } } } } } },
          responses: { 201: json('Registered'), 400: error, ...authErrors, 409: error, 415: error },
        },
      },
      '/workers/{id}': {
        delete: { ...keyed, summary: 'Remove a Worker added through the API', parameters: [workerId], responses: { 200: json('Removed'), ...authErrors, 404: error, 409: error } },
      },
      '/workers/{id}/logs': {
        get: { ...keyed, summary: "A registered Worker's own logs", parameters: [workerId], responses: { 200: json('Logs'), ...authErrors, 404: error, 502: error } },
      },
      '/logs': {
        get: {
          ...keyed,
          summary: 'The last log lines of every service',
          parameters: [
            { name: 'service', in: 'query', schema: { type: 'string' } },
            { name: 'level', in: 'query', schema: { type: 'string', enum: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1 } },
          ],
          responses: { 200: json('{"logs":[…]}'), 400: error, ...authErrors },
        },
      },
      '/metrics': {
        get: { summary: 'Prometheus metrics (LB key or METRICS_TOKEN)', security: [{ lbKey: [] }], responses: { 200: { description: 'Prometheus text' }, ...authErrors } },
      },
      '/openapi.json': { get: { summary: 'This document', responses: { 200: json('OpenAPI 3.1') } } },
    },
  }
}
