import { z } from 'zod'
import { groupName } from './task.js'

// Shapes of what Workers send us. Parsed leniently where Workers differ in the wild
// (tags as an array, missing optional blocks), strictly where routing depends on it.

export const ParamRule = z.object({
  type: z.enum(['string', 'number', 'boolean', 'object', 'array']),
  required: z.boolean().optional(),
  default: z.unknown().optional(),
  enum: z.array(z.unknown()).optional(),
  pattern: z.string().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
})
export type ParamRule = z.infer<typeof ParamRule>

export const WorkerFunction = z.object({
  name: z.string().min(1),
  params: z.record(z.string(), ParamRule).default({}),
})
export type WorkerFunction = z.infer<typeof WorkerFunction>

export const SlotCounts = z.object({
  used: z.number().int().nonnegative(),
  available: z.number().int().nonnegative().optional(),
  limit: z.number().int().nonnegative(),
  queue: z.number().int().nonnegative().default(0),
})
export type SlotCounts = z.infer<typeof SlotCounts>

export const ServiceState = z.object({
  name: z.string(),
  status: z.unknown().optional(),
  state: z.string(),
})
export type ServiceState = z.infer<typeof ServiceState>

const SystemInfo = z
  .object({
    uptime: z.number().optional(),
    usedMemoryPercent: z.number().optional(),
    cpuLoad: z.number().optional(),
  })
  .partial()

const Tags = z
  .union([z.record(z.string(), z.unknown()), z.array(z.string())])
  .transform(tags => (Array.isArray(tags) ? Object.fromEntries(tags.map(tag => [tag, true])) : tags))

/** GET /health of a Worker, asked with the LB key. */
export const WorkerHealth = z.object({
  status: z.enum(['ready', 'maintenance']),
  group: groupName,
  contract: z.number().finite(),
  websocketPort: z.number().int().min(1).max(65535),
  functions: z.array(WorkerFunction),
  services: z.array(ServiceState).default([]),
  tags: Tags.default({}),
  slots: SlotCounts,
  system: SystemInfo.default({}),
})
export type WorkerHealth = z.infer<typeof WorkerHealth>

/** A message on a Worker's WebSocket slot stream (a push, or the answer to `ping`). */
export const SlotMessage = z.object({
  status: z.enum(['ready', 'maintenance']),
  slots: SlotCounts,
  system: SystemInfo.optional(),
  services: z.array(ServiceState).optional(),
})
export type SlotMessage = z.infer<typeof SlotMessage>
