import { watch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { z } from 'zod'
import { normalizeWorkerUrl, type Logger } from '@slotway/shared'

const WorkerList = z.array(z.string())

/**
 * workers.json: a JSON array of Worker base URLs. Watched, so edits apply without a restart;
 * also re-read by `refresh()`, which discovery calls on every poll in case a watch event was lost.
 */
export class WorkerListFile {
  private watcher: FSWatcher | undefined
  private debounce: NodeJS.Timeout | undefined
  private last = ''
  readonly path: string

  constructor(path: string, private readonly logger: Logger, private readonly onChange: (urls: string[]) => void) {
    this.path = resolve(path)
  }

  async start(): Promise<void> {
    await this.refresh()
    // Watch the folder, not the file: editors replace a file by renaming a new one over it.
    this.watcher = watch(dirname(this.path), (_event, name) => {
      if (name !== null && name !== basename(this.path)) return
      clearTimeout(this.debounce)
      this.debounce = setTimeout(() => void this.refresh(), 50)
    })
    this.watcher.on('error', error => this.logger.warn('cannot watch the Worker list', { file: this.path, error: error.message }))
  }

  async refresh(): Promise<void> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT'
      text = missing ? '[]' : this.last
      if (!missing) this.logger.warn('cannot read the Worker list', { file: this.path, error: String(error) })
    }
    if (text === this.last) return
    let urls: string[]
    try {
      urls = WorkerList.parse(JSON.parse(text))
    } catch {
      this.logger.error('the Worker list is not a JSON array of URLs; keeping the previous one', { file: this.path })
      return
    }
    this.last = text
    const valid: string[] = []
    for (const url of urls) {
      try {
        valid.push(normalizeWorkerUrl(url))
      } catch {
        this.logger.error('ignoring a Worker list entry that is not an http(s) URL', { file: this.path, entry: url })
      }
    }
    this.onChange([...new Set(valid)])
  }

  stop(): void {
    clearTimeout(this.debounce)
    this.watcher?.close()
  }
}
