import winston from 'winston'
import type Transport from 'winston-transport'
import { hostname } from 'node:os'

export interface LoggerOptions {
  service: string
  level: string
  format?: 'json' | 'pretty' | undefined
  /** Tells replicas apart in a shared log; defaults to host and pid. */
  replica?: string
  /** Also keep lines in Redis for GET /logs. */
  sink?: Transport
}

export type Logger = winston.Logger

/** JSON lines for collectors, readable coloured lines for people; the same fields in both. */
export function createLogger(options: LoggerOptions): Logger {
  const pretty = (options.format ?? (process.stdout.isTTY ? 'pretty' : 'json')) === 'pretty'
  const replica = options.replica ?? `${hostname()}:${process.pid}`
  return winston.createLogger({
    level: options.level,
    defaultMeta: { service: options.service, replica },
    format: pretty
      ? winston.format.combine(
          winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
          winston.format.colorize(),
          winston.format.printf(({ timestamp, level, message, service: _s, replica: _r, ...rest }) => {
            const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : ''
            return `${String(timestamp)} ${level} ${String(message)}${extra}`
          }),
        )
      : winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console(), ...(options.sink ? [options.sink] : [])],
  })
}
