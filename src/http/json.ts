import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LosslessNumber, parse as parseLossless } from 'lossless-json';
import { AppError } from '../errors.js';

/** Rows are flat objects in an array: 2 levels. Anything far deeper is hostile or a mistake. */
export const MAX_JSON_DEPTH = 32;

/**
 * Fastify's own JSON parser (which refuses `__proto__` and `constructor.prototype` keys), behind a
 * depth check: a body of a million nested arrays parses, but every recursive walk over it afterwards
 * (validation, JSON.stringify of a reject's raw text) would overflow the stack. The check is one pass
 * over the text, outside strings. Duplicate keys are left to JSON.parse: the last one wins.
 *
 * For a request that `exact` picks (a batch for a table with bigint or decimal columns), the body that
 * passed those checks is read again with lossless-json, every number kept with all its digits (a
 * LosslessNumber), so that `9223372036854775807` is never rounded to a double. Other bodies pay nothing.
 */
export function installJsonParser(
  app: FastifyInstance,
  exact: (request: FastifyRequest) => boolean = () => false,
) {
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
    if (!exact(request)) return parse(request, text, done);
    parse(request, text, (err: Error | null) => {
      if (err) return done(err, undefined);
      // The same text JSON.parse accepted, so this cannot fail; numbers become LosslessNumbers.
      done(
        null,
        parseLossless(text, null, (value) => new LosslessNumber(value)),
      );
    });
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
