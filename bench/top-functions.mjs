#!/usr/bin/env node
// Prints the functions with the most self time in .cpuprofile files: `node bench/top-functions.mjs <file>…`
import { readFileSync } from 'node:fs'

for (const file of process.argv.slice(2)) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const self = new Map()
  const byId = new Map(profile.nodes.map(node => [node.id, node]))
  const dt = profile.timeDeltas
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])
    const { functionName, url, lineNumber } = node.callFrame
    const key = `${functionName || '(anonymous)'} ${url.split('/node_modules/').pop().split('/').slice(-3).join('/')}:${lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0))
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  console.log(`\n${file.split('/').pop()}: ${(total / 1e6).toFixed(1)} s sampled`)
  for (const [key, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}`)
}
