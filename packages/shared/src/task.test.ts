import { describe, expect, it } from 'vitest'
import { TaskRequest, decodeFailure, describeIssues, encodeFailure } from './task.js'
import { decodeReply, encodeReply } from './reply.js'
import { ConfigError, GatewayEnv, loadConfig, redisUrl } from './config.js'
import { isPoolId, poolId, redisKeys } from './keys.js'

describe('the task request', () => {
  it('fills the defaults a client may leave out', () => {
    const task = TaskRequest.parse({ function: 'hello', contract: 1 })
    expect(task).toEqual({ group: 'default', function: 'hello', contract: 1, input: {}, mode: 'sync' })
  })

  it('names the bad field', () => {
    const result = TaskRequest.safeParse({ function: 'hello', contract: 'one' })
    expect(result.success).toBe(false)
    const described = describeIssues(result.error!)
    expect(described.issues[0]!.path).toBe('contract')
    expect(described.error).toMatch(/^Invalid task: contract: /)
  })

  it('keeps priorities inside 1…2097152 and groups to a key-safe alphabet', () => {
    for (const priority of [0, 2097153, 1.5]) expect(TaskRequest.safeParse({ function: 'f', contract: 1, priority }).success).toBe(false)
    for (const group of ['a:b', '', '{x}', 'a b']) expect(TaskRequest.safeParse({ group, function: 'f', contract: 1 }).success).toBe(false)
  })

  it('wants an http(s) webhook URL in webhook mode', () => {
    expect(TaskRequest.safeParse({ function: 'f', contract: 1, mode: 'webhook' }).success).toBe(false)
    expect(TaskRequest.safeParse({ function: 'f', contract: 1, mode: 'webhook', webhook: { url: 'file:///etc/passwd' } }).success).toBe(false)
    expect(TaskRequest.safeParse({ function: 'f', contract: 1, mode: 'webhook', webhook: { url: 'https://example.test/hook' } }).success).toBe(true)
  })
})

describe('codecs', () => {
  it('carries a reply with its raw body unchanged', () => {
    const body = '{"success":true,"result":{"text":"line one\\nline two"}}'
    expect(decodeReply(encodeReply({ kind: 'result', taskId: 't-1', status: 200, body, workerId: 'w1' }))).toEqual({ kind: 'result', taskId: 't-1', status: 200, body, workerId: 'w1' })
    expect(decodeReply('garbage')).toBeUndefined()
  })

  it('carries stream frames, chunks with newlines included', () => {
    for (const frame of [
      { kind: 'stream-head', taskId: 't', status: 200, contentType: 'text/plain; charset=utf-8' },
      { kind: 'stream-chunk', taskId: 't', chunk: 'a\nb\n' },
      { kind: 'stream-end', taskId: 't' },
      { kind: 'stream-end', taskId: 't', error: 'Worker went away' },
    ] as const) expect(decodeReply(encodeReply(frame))).toEqual(frame)
  })

  it('reads back a failure, and makes sense of a reason that is not ours', () => {
    expect(decodeFailure(encodeFailure({ status: 404, body: '{"error":"x"}' }))).toEqual({ status: 404, body: '{"error":"x"}' })
    expect(decodeFailure('job stalled more than allowable limit')).toEqual({ status: 502, body: '{"success":false,"error":"job stalled more than allowable limit"}' })
  })

  it('recognises only pool ids Slotway could have made', () => {
    expect(isPoolId('default@1')).toBe(true)
    expect(isPoolId('a.b-c_d@12.5')).toBe(true)
    for (const id of ['a:b@1', 'default', '@1', 'x@y', '{x}@1']) expect(isPoolId(id)).toBe(false)
  })

  it('names pools and prefixes every key', () => {
    expect(poolId({ group: 'a.b', contract: 2 })).toBe('a.b@2')
    const keys = redisKeys('p')
    expect(keys.capacity('g@1')).toBe('p:{g@1}:capacity')
    expect(keys.slots('g@1', 'w')).toBe('p:{g@1}:slots:w')
  })
})

describe('configuration', () => {
  it('parses defaults and names a bad variable in one line', () => {
    const config = loadConfig(GatewayEnv, { LB_AUTH_KEY: 'k' })
    expect(config.PORT).toBe(4000)
    expect(() => loadConfig(GatewayEnv, { LB_AUTH_KEY: 'k', TASK_TIMEOUT: 'soon' })).toThrow(ConfigError)
    expect(() => loadConfig(GatewayEnv, { LB_AUTH_KEY: 'k', TASK_TIMEOUT: 'soon' })).toThrow(/^Configuration error: TASK_TIMEOUT .*"soon"/)
    expect(() => loadConfig(GatewayEnv, {})).toThrow(/LB_AUTH_KEY/)
  })

  it('refuses a short LB key outside development', () => {
    expect(() => loadConfig(GatewayEnv, { LB_AUTH_KEY: 'short', NODE_ENV: 'production' })).toThrow(/LB_AUTH_KEY must be at least 16 characters/)
    expect(loadConfig(GatewayEnv, { LB_AUTH_KEY: 'short', NODE_ENV: 'development' }).LB_AUTH_KEY).toBe('short')
    expect(loadConfig(GatewayEnv, { LB_AUTH_KEY: '0123456789abcdef', NODE_ENV: 'production' }).LB_AUTH_KEY).toHaveLength(16)
  })

  it('refuses an LB key that cannot travel as a WebSocket subprotocol', () => {
    expect(() => loadConfig(GatewayEnv, { LB_AUTH_KEY: 'abc/def=0123456789' })).toThrow(/LB_AUTH_KEY may hold only/)
  })

  it('finds Redis from REDIS_URL, else REDIS_HOST/REDIS_PORT', () => {
    expect(redisUrl({ REDIS_URL: 'redis://r:1' , REDIS_HOST: 'h' })).toBe('redis://r:1')
    expect(redisUrl({ REDIS_HOST: 'h', REDIS_PORT: 7000 })).toBe('redis://h:7000')
    expect(redisUrl({})).toBe('redis://127.0.0.1:6379')
  })
})
