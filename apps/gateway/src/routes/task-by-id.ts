import { Router } from 'express'
import { HttpError } from '../http-errors.js'
import { withTimeout } from '../with-timeout.js'
import type { TaskStore } from '../task-store.js'

const TASK_ID = /^[0-9a-f-]{36}$/

/** GET /task/:id reads a task's state and result; DELETE /task/:id cancels one that has not started. */
export function taskByIdRoutes(store: TaskStore): Router {
  const router = Router()

  router.param('id', (_req, _res, next, id: string) => {
    next(TASK_ID.test(id) ? undefined : new HttpError(400, 'INVALID_TASK_ID', 'a task id is a UUID, as returned by POST /task'))
  })

  router.get('/task/:id', async (req, res) => {
    const view = await withTimeout(store.view(req.params.id as string))
    if (!view) throw new HttpError(404, 'TASK_NOT_FOUND', 'no such task (it may have expired)')
    res.json(view)
  })

  router.delete('/task/:id', async (req, res) => {
    const taskId = req.params.id as string
    const result = await withTimeout(store.cancel(taskId))
    if (result === 'cancelled') return void res.json({ taskId, status: 'cancelled' })
    if (result === 'not-found') throw new HttpError(404, 'TASK_NOT_FOUND', 'no such task (it may have expired)')
    throw new HttpError(409, 'TASK_NOT_CANCELLABLE', result === 'started' ? 'the task has already started' : 'the task has already finished', { taskId })
  })

  return router
}
