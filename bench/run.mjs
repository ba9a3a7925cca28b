#!/usr/bin/env node
// `pnpm bench [--quick]`: starts a Redis of its own (or uses REDIS_URL), no-op Workers and the real
// services on this machine, drives load with autocannon, prints a table and writes
// bench/results/<date>.json. Figures are ratios to calling the Workers directly, measured in this run.
import { fork, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { Redis } from 'ioredis'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const quick = process.argv.includes('--quick')
// --profile: CPU profiles of every service (bench/results/profiles), sync at 50 connections only
// (with --drain-only: of the drain and queue wait).
const profile = process.argv.includes('--profile')
// --sync-only: the sync phases alone (while working on the request path).
const syncOnly = process.argv.includes('--sync-only')
// --drain-only: the backlog drain and queue wait alone (while working on the queued path).
const drainOnly = process.argv.includes('--drain-only')
const nodeArgs = profile ? ['--cpu-prof', `--cpu-prof-dir=${join(here, 'results', 'profiles')}`] : []
const LB = 'bench-lb-key-0123456789abcdef'
const WK = 'bench-worker-key-0123456789'
const WORKERS = 2
// The queue-wait phase has a pool of its own whose slots are the limit: few slots, tasks that hold them a while.
const WAIT_SLOTS = 4
const WAIT_TASK_MS = 20
const WAIT_TASKS = quick ? 600 : 2000
const SYNC_SECONDS = quick ? 3 : 10
const DRAIN_TASKS = quick ? 5000 : 20000
const processes = []
const workerUrls = new Set()

const freePort = () => new Promise(resolve => {
  const server = createServer().listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)) })
})

function start(name, command, args, env, readyPattern) {
  const child = spawn(command, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const entry = { name, child, lines: [] }
  processes.push(entry)
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${entry.lines.slice(-10).join('\n')}`)), 20000)
    for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', line => {
      entry.lines.push(line)
      if (entry.lines.length > 200) entry.lines.shift()
      if (readyPattern.test(line)) { clearTimeout(timer); resolve() }
    })
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`${name} exited (${code}):\n${entry.lines.slice(-10).join('\n')}`)) })
  })
  return { ...entry, ready }
}

async function stop(entry) {
  if (entry.child.exitCode !== null) return
  const exited = new Promise(resolve => entry.child.once('exit', resolve))
  entry.child.kill('SIGTERM')
  await exited
}

/** Peak resident memory of a process, from the kernel (Linux). */
function peakRssMb(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find(l => l.startsWith('VmHWM:'))
    return Math.round(Number(line.split(/\s+/)[1]) / 1024)
  } catch {
    return null
  }
}

function startWorker(port, wsPort, { group = 'bench', slots = 256 } = {}) {
  const child = fork(join(here, 'noop-worker.mjs'), [], { execArgv: nodeArgs, env: { ...process.env, PORT: String(port), WS_PORT: String(wsPort), AUTH_KEY: WK, LB_AUTH_KEY: LB, SLOTS: String(slots), GROUP: group }, stdio: 'ignore' })
  const ask = message => new Promise(resolve => { child.once('message', resolve); child.send(message) })
  const ready = new Promise(resolve => child.once('message', resolve))
  const entry = { name: `worker:${port}`, child, lines: [], ask, url: `http://127.0.0.1:${port}` }
  workerUrls.add(entry.url)
  processes.push(entry)
  return { ...entry, ready }
}

/** CPU seconds a process has used so far (user + system), from the kernel (Linux). */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

/** Runs `work`, then says how much CPU each process (and this load generator) spent per task. */
async function cpuPerTask(work, tasksOf) {
  const snapshot = () => Object.fromEntries([
    ...processes.filter(p => p.child.exitCode === null).map(p => [p.name.startsWith('worker:') ? 'workers' : p.name.replace(/-\d+$/, 's'), p.child.pid]),
  ].reduce((acc, [name, pid]) => { acc.set(name, (acc.get(name) ?? 0) + cpuSeconds(pid)); return acc }, new Map([['load', process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6]])))
  const before = snapshot()
  const result = await work()
  const after = snapshot()
  const tasks = tasksOf(result)
  const perTaskUs = Object.fromEntries(Object.keys(after).map(name => [name, Math.round(((after[name] - (before[name] ?? 0)) / Math.max(1, tasks)) * 1e6)]))
  return { result, perTaskUs }
}

const percentile = (values, p) => {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

async function load({ urls, connections, seconds, body }) {
  // One autocannon run per target, connections split between them, at the same time.
  const per = Math.max(1, Math.floor(connections / urls.length))
  const runs = await Promise.all(urls.map(url => autocannon({
    url, connections: per, duration: seconds, method: 'POST',
    // Direct calls carry the keys Slotway would send a Worker; calls to the gateway the keys a client sends it.
    headers: url.endsWith(':' + new URL(url).port + '/task') && workerUrls.has(new URL(url).origin)
      ? { 'content-type': 'application/json', authorization: WK, 'x-lb-auth': LB }
      : { 'content-type': 'application/json', authorization: LB, 'x-wr-auth': WK },
    body: JSON.stringify(body),
  })))
  const total = runs.reduce((sum, r) => sum + r.requests.total, 0)
  const errors = runs.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0)
  const worst = (key) => Math.max(...runs.map(r => r.latency[key]))
  return { rps: Math.round(total / seconds), p50: worst('p50'), p90: worst('p90'), p99: worst('p99'), errors, total }
}

const describeCpu = perTask => Object.entries(perTask).filter(([, us]) => us > 0).map(([name, us]) => `${name} ${us}`).join(', ')

async function main() {
  const startedAt = new Date()
  // Redis: a private one when redis-server is installed (nothing else on it skews the figures).
  let redisUrl = process.env.REDIS_URL
  if (!redisUrl && spawnSync('sh', ['-c', 'command -v redis-server']).status === 0) {
    const port = await freePort()
    const redis = start('redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {}, /Ready to accept/)
    await redis.ready
    redisUrl = `redis://127.0.0.1:${port}`
  }
  redisUrl ??= 'redis://127.0.0.1:6379'
  const prefix = `slotway-bench-${Date.now()}`
  const redis = new Redis(redisUrl)

  const workers = []
  for (let i = 0; i < WORKERS; i++) workers.push(startWorker(await freePort(), await freePort()))
  const waitWorkers = []
  for (let i = 0; i < WORKERS; i++) waitWorkers.push(startWorker(await freePort(), await freePort(), { group: 'bench-wait', slots: WAIT_SLOTS }))
  await Promise.all([...workers, ...waitWorkers].map(w => w.ready))
  const workersFile = join(here, 'results', `.workers-${process.pid}.json`)
  writeFileSync(workersFile, JSON.stringify([...workers, ...waitWorkers].map(w => w.url)))

  const gatewayPort = await freePort()
  const env = {
    REDIS_URL: redisUrl, REDIS_PREFIX: prefix, LB_AUTH_KEY: LB, LOG_LEVEL: 'info', LOG_FORMAT: 'json', NODE_ENV: 'production',
    WORKERS_FILE: workersFile, WORKER_DISCOVERY_INTERVAL: '2000', TASK_TIMEOUT: '60000', RESULT_TTL: '600', AUTH_FAILURE_LIMIT: '100000',
  }
  const entry = name => [...nodeArgs, join(root, 'apps', name, 'dist', 'index.js')]
  const discovery = start('discovery', process.execPath, entry('discovery'), env, /discovery ready/)
  const gateway = start('gateway', process.execPath, entry('gateway'), { ...env, PORT: String(gatewayPort), HOST: '127.0.0.1' }, /gateway ready|"gateway ready"/)
  const dispatchers = [start('dispatcher-1', process.execPath, entry('dispatcher'), env, /dispatcher ready/)]
  await Promise.all([discovery.ready, gateway.ready, dispatchers[0].ready])
  // The gateway logs at warn: readiness is its answering /health; Workers ready is discovery's word in Redis.
  for (;;) {
    const states = Object.values(await redis.hgetall(`${prefix}:workers`)).map(s => JSON.parse(s).status)
    if (states.length === 2 * WORKERS && states.every(s => s === 'ready')) break
    await new Promise(r => setTimeout(r, 100))
  }
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}/task`
  const task = { group: 'bench', function: 'noop', contract: 1, input: {} }
  const results = { startedAt: startedAt.toISOString(), quick, machine: { cores: cpus().length, cpu: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30) }, sync: [], drain: [], queueWait: null, footprint: {} }

  console.log(`slotway bench${quick ? ' --quick' : ''}: ${cpus().length} cores, ${results.machine.memoryGb} GiB, ${WORKERS} no-op Workers × 256 slots`)
  // Warm up both paths (connections, JIT) before measuring.
  await load({ urls: workers.map(w => `${w.url}/task`), connections: 10, seconds: 1, body: { function: 'noop', contract: 1, input: {} } })
  await load({ urls: [gatewayUrl], connections: 10, seconds: 1, body: task })

  for (const connections of drainOnly ? [] : profile ? [50] : [1, 10, 50, 200]) {
    const { result: direct, perTaskUs: directCpu } = await cpuPerTask(() => load({ urls: workers.map(w => `${w.url}/task`), connections: Math.max(connections, WORKERS), seconds: SYNC_SECONDS, body: { function: 'noop', contract: 1, input: {} } }), r => r.total)
    const { result: slotway, perTaskUs: slotwayCpu } = await cpuPerTask(() => load({ urls: [gatewayUrl], connections, seconds: SYNC_SECONDS, body: task }), r => r.total)
    const row = { connections, direct, slotway, cpuPerTaskUs: { direct: directCpu, slotway: slotwayCpu }, throughputRatio: +(slotway.rps / direct.rps).toFixed(3), addedP50Ms: slotway.p50 - direct.p50, addedP99Ms: slotway.p99 - direct.p99 }
    results.sync.push(row)
    console.log(`sync ${String(connections).padStart(3)} conn: direct ${direct.rps}/s p50 ${direct.p50} p99 ${direct.p99} | slotway ${slotway.rps}/s p50 ${slotway.p50} p99 ${slotway.p99} errors ${slotway.errors} | ratio ${row.throughputRatio}`)
    console.log(`  CPU µs per task: direct ${describeCpu(directCpu)} | slotway ${describeCpu(slotwayCpu)}`)
  }

  if (syncOnly || (profile && !drainOnly)) return true
  // Backlog drain: queue everything with no dispatcher running, then let 1 (then 2) drain it.
  for (const count of [1, 2]) {
    await Promise.all(dispatchers.map(stop))
    dispatchers.length = 0
    await Promise.all(workers.map(w => w.ask({ cmd: 'reset' })))
    const memoryBefore = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1])
    let next = 0
    const submitted = await new Promise(resolve => {
      const instance = autocannon({
        url: gatewayUrl, connections: 50, amount: DRAIN_TASKS, method: 'POST',
        headers: { 'content-type': 'application/json', authorization: LB, 'x-wr-auth': WK },
        requests: [{ setupRequest: request => ({ ...request, body: JSON.stringify({ ...task, mode: 'async', input: { i: next++ } }) }) }],
      }, (error, result) => resolve(error ? { total: 0, non2xx: DRAIN_TASKS } : result))
      void instance
    })
    const memoryAfter = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1])
    if (count === 1) results.footprint.redisBytesPer10kQueued = Math.round(((memoryAfter - memoryBefore) / DRAIN_TASKS) * 10000)
    for (let i = 1; i <= count; i++) dispatchers.push(start(`dispatcher-${i}`, process.execPath, entry('dispatcher'), env, /dispatcher ready/))
    await Promise.all(dispatchers.map(d => d.ready))
    const deadline = Date.now() + 300_000
    const { result: stats, perTaskUs } = await cpuPerTask(async () => {
      for (;;) {
        const stats = (await Promise.all(workers.map(w => w.ask({ cmd: 'stats' })))).map(m => m.stats)
        if (stats.reduce((s, w) => s + w.seen, 0) >= DRAIN_TASKS || Date.now() > deadline) return stats
        await new Promise(r => setTimeout(r, 50))
      }
    }, () => DRAIN_TASKS)
    // Tasks of this phase carry a number; stragglers of the sync phase do not.
    const ran = stats.reduce((s, w) => s + w.seen, 0)
    const seconds = (Math.max(...stats.map(s => s.lastEnd)) - Math.min(...stats.filter(s => s.firstStart).map(s => s.firstStart))) / 1000
    const row = { dispatchers: count, tasks: DRAIN_TASKS, accepted: submitted['2xx'] ?? 0, ran, duplicates: stats.reduce((s, w) => s + w.duplicates, 0), tasksPerSecond: Math.round(ran / seconds), cpuPerTaskUs: perTaskUs }
    results.drain.push(row)
    console.log(`drain with ${count} dispatcher${count > 1 ? 's' : ''}: ${row.tasksPerSecond} tasks/s (${ran} of ${row.accepted} accepted, ${row.duplicates} run twice)`)
    console.log(`  CPU µs per task: ${describeCpu(perTaskUs)}`)
  }

  // Queue wait: a saturated pool (a backlog far bigger than its slots, which are the limit: dispatchers could start
  // tasks faster than they end), gap from a slot freeing to the next task starting on it.
  await Promise.all(waitWorkers.map(w => w.ask({ cmd: 'reset', trackGaps: true })))
  let waitNext = 0
  await new Promise(resolve => autocannon({
    url: gatewayUrl, connections: 50, amount: WAIT_TASKS, method: 'POST',
    headers: { 'content-type': 'application/json', authorization: LB, 'x-wr-auth': WK },
    requests: [{ setupRequest: request => ({ ...request, body: JSON.stringify({ ...task, group: 'bench-wait', mode: 'async', input: { ms: WAIT_TASK_MS, i: waitNext++ } }) }) }],
  }, resolve))
  // Measured once everything is queued, so the figure is the queue's own, not the submissions' competing for the CPU.
  await Promise.all(waitWorkers.map(w => w.ask({ cmd: 'restart-gaps' })))
  for (;;) {
    const stats = (await Promise.all(waitWorkers.map(w => w.ask({ cmd: 'stats' })))).map(m => m.stats)
    if (stats.reduce((s, w) => s + w.count, 0) >= WAIT_TASKS) {
      const gaps = stats.flatMap(s => s.gaps)
      results.queueWait = { samples: gaps.length, slots: WAIT_SLOTS * WORKERS, taskMs: WAIT_TASK_MS, p50Ms: +percentile(gaps, 50).toFixed(3), p99Ms: +percentile(gaps, 99).toFixed(3) }
      break
    }
    await new Promise(r => setTimeout(r, 50))
  }
  console.log(`queue wait (slot free → next start, ${WAIT_SLOTS * WORKERS} slots × ${WAIT_TASK_MS} ms tasks): p50 ${results.queueWait.p50Ms} ms, p99 ${results.queueWait.p99Ms} ms`)

  const final = (await Promise.all(workers.map(w => w.ask({ cmd: 'stats' })))).map(m => m.stats)
  const finalWait = (await Promise.all(waitWorkers.map(w => w.ask({ cmd: 'stats' })))).map(m => m.stats)
  results.correctness = {
    maxUsed: Math.max(...final.map(s => s.maxUsed)), slotLimit: 256, maxQueuedInWorker: Math.max(...final.map(s => s.maxQueued)),
    lost: results.drain.reduce((s, d) => s + (d.accepted - d.ran), 0), runTwice: results.drain.reduce((s, d) => s + d.duplicates, 0),
    syncErrors: results.sync.reduce((s, r) => s + r.slotway.errors, 0),
    waitPool: {
      maxUsed: Math.max(...finalWait.map(s => s.maxUsed)), slotLimit: WAIT_SLOTS, maxQueuedInWorker: Math.max(...finalWait.map(s => s.maxQueued)),
      lost: WAIT_TASKS - finalWait.reduce((s, w) => s + w.seen, 0), runTwice: finalWait.reduce((s, w) => s + w.duplicates, 0),
    },
  }
  for (const p of processes) if (p.child.pid) results.footprint[`${p.name}PeakRssMb`] = peakRssMb(p.child.pid)
  console.log(`footprint: ${Object.entries(results.footprint).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  console.log(`correctness: ${JSON.stringify(results.correctness)}`)

  mkdirSync(join(here, 'results'), { recursive: true })
  const file = join(here, 'results', `${startedAt.toISOString().replace(/[:]/g, '-').slice(0, 19)}${quick ? '-quick' : ''}.json`)
  writeFileSync(file, JSON.stringify(results, null, 2))
  console.log(`written: ${file.slice(root.length + 1)}`)
  const { waitPool } = results.correctness
  const ok = results.correctness.maxUsed <= 256 && results.correctness.maxQueuedInWorker === 0 && results.correctness.lost === 0 && results.correctness.runTwice === 0 && results.correctness.syncErrors === 0 &&
    waitPool.maxUsed <= WAIT_SLOTS && waitPool.maxQueuedInWorker === 0 && waitPool.lost === 0 && waitPool.runTwice === 0
  await redis.quit()
  return ok
}

let ok = false
try {
  ok = await main()
} catch (error) {
  console.error(error)
} finally {
  for (const p of processes.reverse()) await stop(p).catch(() => undefined)
  spawnSync('rm', ['-f', join(here, 'results', `.workers-${process.pid}.json`)])
}
console.log(ok ? 'correctness: passed' : 'correctness: FAILED')
process.exit(ok ? 0 : 1)
