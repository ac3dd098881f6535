import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, exponentialBuckets, Histogram, Registry } from 'prom-client';

/** Where rows came from: a historic CSV load or a batch over HTTP/CLI. */
export type RowSource = 'historic' | 'payload';

/**
 * The service's Prometheus metrics, one registry per context (never prom-client's global one), so that
 * tests that build several apps in one process never collide. Services report through the three small
 * methods below; only the HTTP app reads the registry (GET /metrics). Label values are bounded: tables
 * come from the catalogue, reasons from the reject catalogue, routes are patterns, not URLs.
 */
export class Metrics {
  readonly registry = new Registry();
  private processMetrics = false;

  readonly httpDuration = new Histogram({
    name: 'dataport_http_request_duration_seconds',
    help: 'HTTP request durations by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    // Up to 10 minutes: a historic load of millions of rows is one request.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });
  private readonly loaded = new Counter({
    name: 'dataport_rows_loaded_total',
    help: 'Rows written by historic loads (committed loads only)',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  private readonly inserted = new Counter({
    name: 'dataport_rows_inserted_total',
    help: 'Rows inserted by batch inserts (committed batches only)',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  private readonly rejected = new Counter({
    name: 'dataport_rows_rejected_total',
    help: 'Rows refused by the data rules and logged in the reject log, by table, source and reason',
    labelNames: ['table', 'source', 'reason'] as const,
    registers: [this.registry],
  });
  private readonly backupDuration = new Histogram({
    name: 'dataport_backup_duration_seconds',
    help: 'Durations of successful backups',
    labelNames: ['table'] as const,
    buckets: exponentialBuckets(0.05, 2, 16),
    registers: [this.registry],
  });
  private readonly backupBytes = new Histogram({
    name: 'dataport_backup_size_bytes',
    help: 'Sizes of successful backups (the Avro file)',
    labelNames: ['table'] as const,
    buckets: exponentialBuckets(1024, 4, 12),
    registers: [this.registry],
  });
  private readonly backupRows = new Histogram({
    name: 'dataport_backup_rows',
    help: 'Rows in successful backups',
    labelNames: ['table'] as const,
    buckets: exponentialBuckets(10, 4, 12),
    registers: [this.registry],
  });
  private readonly restoreDuration = new Histogram({
    name: 'dataport_restore_duration_seconds',
    help: 'Durations of successful restores',
    labelNames: ['table'] as const,
    buckets: exponentialBuckets(0.05, 2, 16),
    registers: [this.registry],
  });
  private readonly restoreRows = new Histogram({
    name: 'dataport_restore_rows',
    help: 'Rows restored by successful restores',
    labelNames: ['table'] as const,
    buckets: exponentialBuckets(10, 4, 12),
    registers: [this.registry],
  });

  /** A committed load or batch: rows written, and the rejects it logged by reason. */
  rows(table: string, source: RowSource, written: number, rejects: Record<string, number>): void {
    (source === 'historic' ? this.loaded : this.inserted).inc({ table }, written);
    for (const [reason, n] of Object.entries(rejects)) this.rejected.inc({ table, source, reason }, n);
  }

  backup(table: string, done: { ms: number; bytes: number; rows: number }): void {
    this.backupDuration.observe({ table }, done.ms / 1000);
    this.backupBytes.observe({ table }, done.bytes);
    this.backupRows.observe({ table }, done.rows);
  }

  restore(table: string, done: { ms: number; rows: number }): void {
    this.restoreDuration.observe({ table }, done.ms / 1000);
    this.restoreRows.observe({ table }, done.rows);
  }

  /** Process metrics (CPU, memory, event loop, GC): only for a server, once per registry. */
  collectProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
  }
}

/** Counts reject records by reason, for `Metrics.rows` and the summary log line. */
export function countReasons(rejects: Iterable<{ reason: string }>, into: Record<string, number> = {}) {
  for (const r of rejects) into[r.reason] = (into[r.reason] ?? 0) + 1;
  return into;
}

/**
 * Times every request by route pattern and status, and serves GET /metrics in the Prometheus text
 * format. Installed on the root app (like the auth hook), so that it sees every route.
 */
export function installMetrics(app: FastifyInstance, metrics: Metrics): void {
  metrics.collectProcessMetrics();
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      {
        method: request.method,
        // The pattern (/load_historic_data/:table), never the raw URL: unbounded labels break Prometheus.
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics: HTTP durations, rows loaded/inserted/rejected, backups, the process',
        tags: ['health'],
        produces: ['text/plain'],
        response: { 200: { content: { 'text/plain': { schema: Type.String() } } } },
      },
    },
    async (_request, reply) =>
      reply
        .type(metrics.registry.contentType)
        .header('cache-control', 'no-store')
        .send(await metrics.registry.metrics()),
  );
}
