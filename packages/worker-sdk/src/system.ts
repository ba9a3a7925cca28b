import os from 'node:os'

export interface SystemInfo {
  uptime: number
  usedMemoryPercent: number
  cpuLoad: number
}

const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits

/** Host figures change slowly, and reading them costs system calls: pushes on every slot change reuse them this long. */
const FRESH_FOR_MS = 250
let cached: { at: number; info: SystemInfo } | undefined

/** Host figures the load balancer shows; cpuLoad is the 1-minute load average per CPU (0 on Windows). */
export function systemInfo(): SystemInfo {
  const now = Date.now()
  if (cached && now - cached.at < FRESH_FOR_MS) return cached.info
  cached = { at: now, info: readSystemInfo() }
  return cached.info
}

function readSystemInfo(): SystemInfo {
  const total = os.totalmem()
  return {
    uptime: round(process.uptime(), 1),
    usedMemoryPercent: total > 0 ? round((1 - os.freemem() / total) * 100, 1) : 0,
    cpuLoad: round((os.loadavg()[0] ?? 0) / Math.max(1, os.availableParallelism()), 2),
  }
}
