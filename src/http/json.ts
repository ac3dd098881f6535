import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

/** Rows are flat objects in an array: 2 levels. Anything far deeper is hostile or a mistake. */
export const MAX_JSON_DEPTH = 32;

/**
 * Fastify's own JSON parser (which refuses `__proto__` and `constructor.prototype` keys), behind a
 * depth check: a body of a million nested arrays parses, but every recursive walk over it afterwards
 * (validation, JSON.stringify of a reject's raw text) would overflow the stack. The check is one pass
 * over the text, outside strings. Duplicate keys are left to JSON.parse: the last one wins.
 */
export function installJsonParser(app: FastifyInstance) {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    const depth = nesting(text);
    if (depth > MAX_JSON_DEPTH) {
      done(
        new AppError(
          'invalid_json',
          `the body nests arrays or objects ${depth > 10_000 ? 'over 10000' : depth} levels deep; at most ${MAX_JSON_DEPTH} are accepted`,
        ),
        undefined,
      );
      return;
    }
    parse(request, text, done);
  });
}

/** The deepest nesting of brackets outside strings (stops counting past 10,001). */
function nesting(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max && (max = depth) > 10_000) return max;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}
