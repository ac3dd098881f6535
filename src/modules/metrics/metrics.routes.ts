import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../../context.js';
import { errors } from '../../http/schemas.js';
import {
  departmentsAboveMean,
  hiredByQuarter,
  metricCsv,
  type DepartmentsAboveMean,
  type HiredByQuarter,
} from './metrics.service.js';

// The year is text here so that a bad one answers invalid_year (from the service), not a generic
// schema error.
export const YearParams = Type.Object({
  year: Type.String({ description: 'A whole number from 1900 to 2100', examples: ['2021'] }),
});

export const HiredByQuarterResponse = Type.Object(
  {
    year: Type.Integer(),
    rows: Type.Array(
      Type.Object({
        department: Type.String(),
        job: Type.String(),
        Q1: Type.Integer({ minimum: 0 }),
        Q2: Type.Integer({ minimum: 0 }),
        Q3: Type.Integer({ minimum: 0 }),
        Q4: Type.Integer({ minimum: 0 }),
      }),
    ),
  },
  {
    description:
      'Pairs with at least one hire that year, by department then job (case-insensitive, then exact)',
  },
);

export const DepartmentsAboveMeanResponse = Type.Object(
  {
    year: Type.Integer(),
    mean: Type.Number({ description: 'Mean hires per department that year, rounded to 2 decimals' }),
    rows: Type.Array(Type.Object({ id: Type.Integer(), department: Type.String(), hired: Type.Integer() })),
  },
  { description: 'Departments above the mean, by hires descending, then id' },
);

const Csv = Type.String({ description: 'The rows as CSV with a header line' });

/** A 200 that is JSON by default and CSV for `Accept: text/csv`. */
function okBody<T extends ReturnType<typeof Type.Object>>(json: T) {
  return { content: { 'application/json': { schema: json }, 'text/csv': { schema: Csv } } };
}

export const metricsRoutes: FastifyPluginAsyncTypebox<{ ctx: Context }> = async (app, { ctx }) => {
  app.get(
    '/hired_by_quarter/:year',
    {
      schema: {
        summary: 'Hires per department and job in each quarter (UTC) of a year',
        tags: ['metrics'],
        params: YearParams,
        response: { 200: okBody(HiredByQuarterResponse), ...errors(400, 404, 503) },
      },
    },
    async (request, reply) => send(request, reply, await hiredByQuarter(ctx, request.params.year)),
  );
  app.get(
    '/departments_above_mean/:year',
    {
      schema: {
        summary: 'Departments that hired more than the mean over all departments in a year',
        tags: ['metrics'],
        params: YearParams,
        response: { 200: okBody(DepartmentsAboveMeanResponse), ...errors(400, 404, 503) },
      },
    },
    async (request, reply) => send(request, reply, await departmentsAboveMean(ctx, request.params.year)),
  );
};

function send(request: FastifyRequest, reply: FastifyReply, result: HiredByQuarter | DepartmentsAboveMean) {
  if (prefersCsv(request.headers.accept))
    return reply.type('text/csv; charset=utf-8').send(metricCsv(result));
  return reply.type('application/json; charset=utf-8').send(result);
}

/**
 * Whether the Accept header ranks text/csv above application/json. JSON is the default; each type
 * takes the q of its most specific matching range (text/csv only from an explicit text/csv, since
 * CSV is never the answer to a wildcard); on a tie an explicit type beats a wildcard, and JSON beats CSV.
 */
export function prefersCsv(accept: string | undefined): boolean {
  if (!accept) return false;
  const q: Record<string, number> = {};
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = qParam ? Number(qParam.slice(2)) : 1;
    if (value >= 0 && value <= 1) q[type.trim()] = Math.max(q[type.trim()] ?? 0, value);
  }
  const csv = q['text/csv'] ?? 0;
  if (csv === 0) return false;
  const json = q['application/json'];
  if (json !== undefined) return csv > json;
  const wildcard = q['application/*'] ?? q['*/*'] ?? 0;
  return csv >= wildcard;
}
