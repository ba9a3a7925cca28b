export { createWorker } from './worker.js'
export { defineFunction } from './define.js'
export { validateParams, ParamError } from './params.js'
export { MAX_PRIORITY } from './task-request.js'
export { UNAUTHORIZED_CLOSE_CODE } from './slot-stream.js'
export type {
  InputOf,
  ListenOptions,
  ListenResult,
  ParamRule,
  ParamRules,
  ParamType,
  ServiceState,
  ServiceStateName,
  SlotsSnapshot,
  SlotwayWorker,
  TaskContext,
  TaskMode,
  WorkerFunction,
  WorkerOptions,
} from './types.js'
export type { StatsDocument, StartedTask } from './stats.js'
