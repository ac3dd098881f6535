import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * With a token configured, every request that changes data needs `Authorization: Bearer <token>`.
 * Both sides are hashed first so the comparison takes the same time whatever the lengths.
 */
export function installAuth(app: FastifyInstance, token: string | undefined) {
  if (!token) return;
  const expected = createHash('sha256').update(token).digest();
  app.addHook('onRequest', async (request) => {
    if (SAFE.has(request.method)) return;
    const header = request.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    const ok = timingSafeEqual(createHash('sha256').update(given).digest(), expected) && given.length > 0;
    if (!ok)
      throw new AppError('unauthorized', 'this endpoint needs the header Authorization: Bearer <API_TOKEN>');
  });
}
