#!/usr/bin/env node
// `pnpm start`: builds what changed, makes sure Redis answers (starting a local one if it can),
// then runs every service in this one terminal with its name in front of each line.
// Plain Node with no dependencies, so it works before anything else is installed.
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dataDir = join(root, '.data')
const env = { ...process.env }
const colours = [36, 35, 33, 32, 34, 31, 96, 95]
const children = []
let stopping = false

function say(line) {
  process.stdout.write(`\x1b[1m[slotway]\x1b[0m ${line}\n`)
}

function fail(sentence) {
  process.stderr.write(`\x1b[31m[slotway]\x1b[0m ${sentence}\n`)
  process.exit(1)
}

function build() {
  const turbo = join(root, 'node_modules', '.bin', 'turbo')
  if (!existsSync(turbo)) fail('Dependencies are not installed: run `pnpm install` first.')
  say('building (only what changed)…')
  const result = spawnSync(turbo, ['run', 'build', '--output-logs=errors-only'], { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) fail('The build failed (see above).')
}

/** Keys generated once are kept in .data/keys.json, so a restart does not invalidate copied commands. */
function ensureKeys() {
  const file = join(dataDir, 'keys.json')
  const saved = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {}
  let generated = false
  let reused = false
  for (const name of ['LB_AUTH_KEY', 'DEMO_WORKER_AUTH_KEY']) {
    if (env[name]) continue
    if (saved[name]) {
      env[name] = saved[name]
      reused = true
      continue
    }
    env[name] = saved[name] = randomBytes(24).toString('hex')
    generated = true
  }
  if (generated) {
    mkdirSync(dataDir, { recursive: true })
    writeFileSync(file, JSON.stringify(saved, null, 2), { mode: 0o600 })
  }
  if (generated || reused) {
    say(`${generated ? 'generated' : 'using the'} keys kept in .data/keys.json (set LB_AUTH_KEY / DEMO_WORKER_AUTH_KEY to choose your own):`)
    say(`  LB_AUTH_KEY=${env.LB_AUTH_KEY}`)
    say(`  DEMO_WORKER_AUTH_KEY=${env.DEMO_WORKER_AUTH_KEY}`)
  }
}

function redisAddress() {
  if (env.REDIS_URL) {
    const url = new URL(env.REDIS_URL)
    return { host: url.hostname || '127.0.0.1', port: Number(url.port || 6379), url: env.REDIS_URL }
  }
  const host = env.REDIS_HOST ?? '127.0.0.1'
  const port = Number(env.REDIS_PORT ?? 6379)
  return { host, port, url: `redis://${host}:${port}` }
}

function redisAnswers({ host, port }) {
  return new Promise(resolve => {
    const socket = connect({ host, port })
    const done = ok => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', data => done(/^(\+PONG|-NOAUTH)/.test(data.toString())))
  })
}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

async function ensureRedis() {
  const address = redisAddress()
  if (await redisAnswers(address)) return say(`using Redis at ${address.url}`)
  const local = address.host === '127.0.0.1' || address.host === 'localhost'
  if (!local || !onPath('redis-server')) {
    fail(`Nothing answers at ${address.url}: start Redis there (or set REDIS_URL), or install redis-server (e.g. \`apt-get install redis-server\`, \`brew install redis\`) so \`pnpm start\` can run one for you.`)
  }
  const dir = join(dataDir, 'redis')
  mkdirSync(dir, { recursive: true })
  say(`no Redis at ${address.url}: starting one with its data in .data/redis (append-only file on)`)
  run('redis', 'redis-server', ['--port', String(address.port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''], {}, 2)
  for (let i = 0; i < 50 && !(await redisAnswers(address)); i++) await new Promise(r => setTimeout(r, 100))
  if (!(await redisAnswers(address))) fail('redis-server did not start (see its lines above).')
}

/** Stop order: 0 = takes requests and runs tasks (stopped first, drains), 1 = Workers and discovery, 2 = Redis. */
function run(name, command, args, extraEnv, stage) {
  const colour = colours[children.length % colours.length]
  const tag = `\x1b[${colour}m[${name}]\x1b[0m`
  // A process group of its own: Ctrl-C reaches only this script, which stops the services in order.
  const child = spawn(command, args, { cwd: root, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const entry = { name, child, stage, exited: new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal }))) }
  children.push(entry)
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', line => {
      process.stdout.write(`${tag} ${line}\n`)
      if (name === 'gateway' && line.includes('gateway ready')) printExample()
    })
  }
  void entry.exited.then(({ code, signal }) => {
    if (stopping) return
    if (code === 0) return say(`${name} stopped (exit 0); the others go on`)
    say(`${name} exited (${signal ?? code}); stopping everything`)
    void stopAll(1)
  })
  return entry
}

function service(name, extraEnv = {}) {
  const stage = name.startsWith('gateway') || name.startsWith('dispatcher') ? 0 : 1
  return run(name, process.execPath, [join(root, 'apps', name.replace(/-\d+$/, ''), 'dist', 'index.js')], {
    LOG_FORMAT: env.LOG_FORMAT ?? 'pretty',
    FORCE_COLOR: env.FORCE_COLOR ?? '1',
    ...extraEnv,
  }, stage)
}

function printExample() {
  const port = env.PORT ?? '4000'
  const workerKey = env.DEMO_WORKER === 'false' ? '<AUTH_KEY of your Worker>' : env.DEMO_WORKER_AUTH_KEY
  say('ready. Try it:')
  process.stdout.write(`
curl -X POST http://localhost:${port}/task \\
  -H 'Content-Type: application/json' -H 'Authorization: ${env.LB_AUTH_KEY}' -H 'x-wr-auth: ${workerKey}' \\
  -d '{"group":"default","function":"hello","contract":1,"priority":1,"input":{"name":"Andera"},"mode":"sync"}'

`)
}

async function stopAll(exitCode) {
  if (stopping) return
  stopping = true
  say('stopping: gateway and dispatchers finish what they hold, then the rest…')
  // In order: what holds work drains while the Workers and Redis it needs are still there.
  for (const stage of [0, 1, 2]) {
    const group = children.filter(c => c.stage === stage)
    for (const { child } of group) if (child.exitCode === null) child.kill('SIGTERM')
    await Promise.all(group.map(c => c.exited))
  }
  say('stopped')
  process.exit(exitCode)
}

process.on('SIGINT', () => (stopping ? children.forEach(c => c.child.kill('SIGKILL')) : void stopAll(0)))
process.on('SIGTERM', () => void stopAll(0))
// Should this script die without stopping them, take the services along.
process.on('exit', () => children.forEach(c => c.child.exitCode === null && c.child.kill('SIGTERM')))

function portFree(port) {
  return new Promise(resolve => {
    const probe = connect({ host: '127.0.0.1', port })
    probe.once('connect', () => (probe.destroy(), resolve(false)))
    probe.once('error', () => resolve(true))
  })
}

// Check everything that can be checked before anything starts.
const dispatchers = Number(env.DISPATCHERS ?? 1)
if (!Number.isInteger(dispatchers) || dispatchers < 1) fail(`DISPATCHERS must be a whole number of at least 1 (got ${env.DISPATCHERS}).`)
const ports = [['PORT', env.PORT ?? '4000']]
if (env.DEMO_WORKER !== 'false') ports.push(['DEMO_WORKER_PORT', env.DEMO_WORKER_PORT ?? '3000'], ['DEMO_WORKER_WS_PORT', env.DEMO_WORKER_WS_PORT ?? '3001'])
for (const [name, port] of ports) {
  if (!(await portFree(Number(port)))) fail(`Port ${port} (${name}) is already in use: stop what holds it, or set ${name} to another port.`)
}

/**
 * workers.json lists the demo Worker at its default port. On another port, discovery reads a copy
 * (.data/workers.json) that lists it where it really is, unless WORKERS_FILE names a file of one's own.
 */
function pointAtDemoWorker() {
  const port = env.DEMO_WORKER_PORT ?? '3000'
  if (env.DEMO_WORKER === 'false' || port === '3000' || env.WORKERS_FILE) return
  const listed = JSON.parse(readFileSync(join(root, 'workers.json'), 'utf8'))
  const demo = `http://127.0.0.1:${port}`
  const urls = listed.map(url => (url.replace(/\/+$/, '') === 'http://127.0.0.1:3000' ? demo : url))
  if (!urls.includes(demo)) urls.push(demo)
  mkdirSync(dataDir, { recursive: true })
  env.WORKERS_FILE = join(dataDir, 'workers.json')
  writeFileSync(env.WORKERS_FILE, JSON.stringify(urls, null, 2) + '\n')
  say(`the demo Worker is on port ${port}: discovery reads .data/workers.json, workers.json with that port`)
}

build()
ensureKeys()
await ensureRedis()
pointAtDemoWorker()
if (env.DEMO_WORKER !== 'false') {
  service('demo-worker', {
    PORT: env.DEMO_WORKER_PORT ?? '3000',
    WS_PORT: env.DEMO_WORKER_WS_PORT ?? '3001',
    AUTH_KEY: env.DEMO_WORKER_AUTH_KEY,
  })
}
service('discovery')
for (let i = 1; i <= dispatchers; i++) service(dispatchers > 1 ? `dispatcher-${i}` : 'dispatcher')
service('gateway')
