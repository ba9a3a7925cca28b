import { createWorker } from '@slotway/worker-sdk'
import { ConfigError, parseConfig, type Config } from './config.js'
import { demoFunctions } from './functions.js'

function fail(message: string): never {
  console.error(`demo worker: ${message}`)
  process.exit(1)
}

let config: Config
try {
  config = parseConfig(process.env)
} catch (err) {
  fail(err instanceof ConfigError ? err.message : String(err))
}

const worker = createWorker({
  group: config.group,
  contract: config.contract,
  slots: config.slots,
  authKey: config.authKey,
  lbAuthKey: config.lbAuthKey,
  functions: demoFunctions(config.extraFunction),
  tags: { implementation: 'demo' },
  statsEndpoint: config.statsEndpoint,
  maintenance: config.maintenance,
  ...(config.servicesDown ? { services: () => [{ name: 'db', status: { error: 'down' }, state: 'down' as const }] } : {}),
})

try {
  const { port, wsPort } = await worker.listen({ port: config.port, wsPort: config.wsPort, host: config.host })
  console.log(`demo worker: http ${port}, ws ${wsPort}, ${config.slots} slots, group ${config.group}, contract ${config.contract}`)
} catch (err) {
  fail(`cannot listen: ${err instanceof Error ? err.message : String(err)}`)
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    // Finish running tasks first (bounded), as every Slotway service does on SIGTERM.
    worker.close({ drainMs: config.drainTimeoutMs }).then(
      () => process.exit(0),
      () => process.exit(0),
    )
  })
}
