import { ServiceProcess } from './process.js'
import { freePort } from './ports.js'
import { referenceWorkerPath, serviceEntry, type WorkerKind } from './paths.js'

export interface TestWorkerOptions {
  kind: WorkerKind
  lbAuthKey: string
  authKey?: string
  slots?: number
  group?: string
  contract?: number
  extraFunction?: string
  servicesDown?: boolean
  maintenance?: boolean
  /** Fixed ports, e.g. to restart "the same" Worker; free ones by default. */
  port?: number
  wsPort?: number
}

export interface WorkerStats {
  maxUsed: number
  maxQueued: number
  received: number
  started: { function: string; tag: string | null; priority: number }[]
  used: number
  queued: number
}

/** A protocol-speaking Worker for tests: our demo Worker, or the foreign reference Worker. Both count what they run. */
export class TestWorker {
  private constructor(readonly process: ServiceProcess, readonly url: string, readonly authKey: string, readonly port: number, readonly wsPort: number) {}

  /** Starts one; a port taken between picking and listening (another test file) means another try. */
  static async start(options: TestWorkerOptions): Promise<TestWorker> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await TestWorker.startOnce(options)
      } catch (error) {
        const portClash = String(error).includes('EADDRINUSE') && options.port === undefined
        if (!portClash || attempt >= 3) throw error
      }
    }
  }

  private static async startOnce(options: TestWorkerOptions): Promise<TestWorker> {
    const port = options.port ?? (await freePort())
    const wsPort = options.wsPort ?? (await freePort())
    const authKey = options.authKey ?? 'worker-key-0123456789'
    const slots = String(options.slots ?? 10)
    const group = options.group ?? 'default'
    const contract = String(options.contract ?? 1)
    let service: ServiceProcess
    if (options.kind === 'reference') {
      const args = [referenceWorkerPath, '--port', String(port), '--ws-port', String(wsPort), '--slots', slots, '--group', group,
        '--contract', contract, '--auth-key', authKey, '--lb-auth-key', options.lbAuthKey]
      if (options.extraFunction) args.push('--extra-function', options.extraFunction)
      if (options.servicesDown) args.push('--services-down')
      if (options.maintenance) args.push('--maintenance')
      service = ServiceProcess.start(`reference-worker:${port}`, args, {})
    } else {
      service = ServiceProcess.start(`demo-worker:${port}`, [serviceEntry('demo-worker')], {
        PORT: String(port), WS_PORT: String(wsPort), HOST: '127.0.0.1', SLOTS: slots, GROUP: group, CONTRACT: contract,
        AUTH_KEY: authKey, LB_AUTH_KEY: options.lbAuthKey, STATS_ENDPOINT: 'true',
        ...(options.extraFunction ? { EXTRA_FUNCTION: options.extraFunction } : {}),
        ...(options.servicesDown ? { SERVICES_DOWN: 'true' } : {}),
        ...(options.maintenance ? { MAINTENANCE: 'true' } : {}),
      })
    }
    await service.waitForLine(/worker: http \d+/)
    return new TestWorker(service, `http://127.0.0.1:${port}`, authKey, port, wsPort)
  }

  async stats(): Promise<WorkerStats> {
    const response = await fetch(`${this.url}/stats`)
    return (await response.json()) as WorkerStats
  }

  /** The protocol's maintenance switch: /off turns maintenance on, /on turns it off. */
  async setMaintenance(on: boolean): Promise<void> {
    const response = await fetch(`${this.url}${on ? '/off' : '/on'}`, { method: 'POST', headers: { authorization: this.authKey } })
    if (!response.ok) throw new Error(`maintenance switch answered ${response.status}`)
  }

  /** Freezes the process (SIGSTOP): it stops answering anything, heartbeats included, until resumed. */
  freeze(): void {
    this.process.child.kill('SIGSTOP')
  }

  resume(): void {
    this.process.child.kill('SIGCONT')
  }

  stop(): Promise<number | null> {
    this.resume()
    return this.process.stop()
  }
}
