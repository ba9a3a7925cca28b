import type { TaskOutcome } from './task.js'

// What a dispatcher sends the one gateway holding a task's client, as pub/sub messages on that
// gateway's channel. The first line is a small header; the rest is the payload, untouched, so a
// Worker's body is never parsed or re-encoded on the way.
//
//   R <taskId> <status> <workerId>\n<body>     the outcome of a sync task
//   H <taskId> <status>\n<content-type>        a stream begins
//   C <taskId>\n<chunk>                        a piece of a stream
//   E <taskId>\n<error or empty>               the stream ended (an error: it broke off)
//   S <taskId>\n                               the outcome is too big for a message: read it from the task

export type TaskReply =
  | ({ kind: 'result'; taskId: string } & TaskOutcome)
  | { kind: 'stream-head'; taskId: string; status: number; contentType: string }
  | { kind: 'stream-chunk'; taskId: string; chunk: string }
  | { kind: 'stream-end'; taskId: string; error?: string }
  | { kind: 'stored'; taskId: string }

/** Outcomes bigger than this are not sent through pub/sub (it would strain Redis's output buffers). */
export const INLINE_REPLY_LIMIT = 256 * 1024

export function encodeReply(reply: TaskReply): string {
  switch (reply.kind) {
    case 'result':
      return `R ${reply.taskId} ${reply.status} ${reply.workerId ?? '-'}\n${reply.body}`
    case 'stream-head':
      return `H ${reply.taskId} ${reply.status}\n${reply.contentType}`
    case 'stream-chunk':
      return `C ${reply.taskId}\n${reply.chunk}`
    case 'stream-end':
      return `E ${reply.taskId}\n${reply.error ?? ''}`
    case 'stored':
      return `S ${reply.taskId}\n`
  }
}

export function decodeReply(message: string): TaskReply | undefined {
  const newline = message.indexOf('\n')
  if (newline < 0) return undefined
  const [kind, taskId, status, workerId] = message.slice(0, newline).split(' ')
  const rest = message.slice(newline + 1)
  if (!taskId) return undefined
  switch (kind) {
    case 'R':
      return { kind: 'result', taskId, status: Number(status), body: rest, ...(workerId && workerId !== '-' ? { workerId } : {}) }
    case 'H':
      return { kind: 'stream-head', taskId, status: Number(status), contentType: rest }
    case 'C':
      return { kind: 'stream-chunk', taskId, chunk: rest }
    case 'E':
      return rest ? { kind: 'stream-end', taskId, error: rest } : { kind: 'stream-end', taskId }
    case 'S':
      return { kind: 'stored', taskId }
    default:
      return undefined
  }
}
