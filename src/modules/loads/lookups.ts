import type { Kysely } from 'kysely';
import type { DialectCaps } from '../../db/engine.js';
import { existingKeys } from '../../db/rows.js';
import type { KeyLookup } from '../../tables/rules.js';

/** Looks keys up with plain queries on `db` (a bulk job's lookups connection), one request at a time. */
export function keysOn(db: Kysely<any>, caps: DialectCaps): KeyLookup {
  return async (requests) => {
    const found = [];
    for (const request of requests) found.push(await existingKeys(db, caps, request));
    return found;
  };
}
