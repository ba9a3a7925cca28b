import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'

// The client's Worker key travels through Redis inside the queued task. Sealing it with a key
// derived from LB_AUTH_KEY keeps it out of sight of anyone who can read Redis or Bull Board
// but does not hold the LB key.

export interface SecretBox {
  seal(plain: string): string
  open(sealed: string): string
}

export function createSecretBox(lbAuthKey: string): SecretBox {
  const key = createHash('sha256').update(`slotway:worker-auth:${lbAuthKey}`).digest()
  return {
    seal(plain) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
    },
    open(sealed) {
      const raw = Buffer.from(sealed, 'base64url')
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
      decipher.setAuthTag(raw.subarray(12, 28))
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
    },
  }
}
