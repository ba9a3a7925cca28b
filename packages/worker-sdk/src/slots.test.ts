import { describe, expect, it } from 'vitest'
import { SlotPool } from './slots.js'

describe('SlotPool', () => {
  it('grants up to the limit, then queues by priority, FIFO within one priority', async () => {
    const pool = new SlotPool(1)
    await pool.acquire(5)
    const order: string[] = []
    const wait = (name: string, priority: number) => pool.acquire(priority).then(() => order.push(name))
    const all = [wait('a3', 3), wait('b1', 1), wait('c3', 3), wait('d1', 1), wait('e2', 2)]
    expect(pool.used).toBe(1)
    expect(pool.queued).toBe(5)
    for (let i = 0; i < 6; i++) {
      pool.release()
      await Promise.resolve()
    }
    await Promise.all(all)
    expect(order).toEqual(['b1', 'd1', 'e2', 'a3', 'c3'])
    expect(pool.used).toBe(0)
  })

  it('removes an aborted waiter from the queue', async () => {
    let changes = 0
    const pool = new SlotPool(1, () => changes++)
    await pool.acquire(1)
    const controller = new AbortController()
    const waiting = pool.acquire(1, controller.signal)
    expect(pool.queued).toBe(1)
    controller.abort(new Error('gone'))
    await expect(waiting).rejects.toThrow('gone')
    expect(pool.queued).toBe(0)
    pool.release()
    expect(pool.used).toBe(0)
    expect(changes).toBe(4) // grant, enqueue, removal, release
  })
})
