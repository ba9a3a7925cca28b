import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'

/** A spawned service whose output we keep, so a test can await a line instead of sleeping. */
export class ServiceProcess {
  readonly lines: string[] = []
  private readonly watchers = new Set<{ test: (line: string) => boolean; resolve: (line: string) => void }>()
  readonly exited: Promise<number | null>

  constructor(readonly name: string, readonly child: ChildProcess) {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', line => {
        this.lines.push(line)
        for (const watcher of this.watchers) {
          if (watcher.test(line)) {
            this.watchers.delete(watcher)
            watcher.resolve(line)
          }
        }
      })
    }
    this.exited = new Promise(resolve => child.once('exit', code => resolve(code)))
  }

  static start(name: string, args: string[], env: Record<string, string>): ServiceProcess {
    const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    return new ServiceProcess(name, child)
  }

  /** Resolves with the first line (already printed or yet to come) that matches. */
  waitForLine(test: RegExp | ((line: string) => boolean), timeoutMs = 20_000): Promise<string> {
    const match = typeof test === 'function' ? test : (line: string) => test.test(line)
    const seen = this.lines.find(match)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.watchers.delete(watcher)
        reject(new Error(`${this.name}: no line matching ${String(test)} within ${timeoutMs} ms; output:\n${this.lines.slice(-30).join('\n')}`))
      }, timeoutMs)
      const watcher = {
        test: match,
        resolve: (line: string) => {
          clearTimeout(timer)
          resolve(line)
        },
      }
      this.watchers.add(watcher)
      void this.exited.then(code => {
        if (!this.watchers.has(watcher)) return
        this.watchers.delete(watcher)
        clearTimeout(timer)
        reject(new Error(`${this.name} exited (${code}) before printing ${String(test)}; output:\n${this.lines.slice(-30).join('\n')}`))
      })
    })
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
    return this.exited
  }
}
