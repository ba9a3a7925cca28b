import type { RequestHandler } from 'express'
import { headerCarriesKey } from '@slotway/shared'
import { HttpError } from './http-errors.js'

/** Lets a request through only if its Authorization header carries the LB key. */
export function requireLbKey(lbAuthKey: string): RequestHandler {
  return (req, _res, next) => {
    if (headerCarriesKey(req.headers.authorization, lbAuthKey)) return next()
    next(new HttpError(401, 'UNAUTHORIZED', 'Unauthorized: the Authorization header must carry the LB key'))
  }
}
