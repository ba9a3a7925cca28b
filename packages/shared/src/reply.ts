import type { TaskOutcome } from './task.js'

// A sync result travels from the dispatcher to the waiting gateway as one pub/sub message.
// The Worker's body is already JSON text; a header line keeps it from being parsed or
// re-encoded on the way.

export interface TaskReply extends TaskOutcome {
  taskId: string
}

export function encodeReply(reply: TaskReply): string {
  return `${reply.taskId} ${reply.status} ${reply.workerId ?? '-'}\n${reply.body}`
}

export function decodeReply(message: string): TaskReply | undefined {
  const newline = message.indexOf('\n')
  if (newline < 0) return undefined
  const [taskId, status, workerId] = message.slice(0, newline).split(' ')
  if (!taskId || !status) return undefined
  return {
    taskId,
    status: Number(status),
    body: message.slice(newline + 1),
    ...(workerId && workerId !== '-' ? { workerId } : {}),
  }
}
