import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyServerOptions } from 'fastify';
import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * JSON lines that Cloud Logging reads as structured entries: `severity` (its level names), `message`
 * (shown as the entry's summary), `time` (RFC 3339), and on errors `stack_trace` (Error Reporting
 * groups by it). The numeric pino `level` is kept too, so pino tools (pino-pretty) still work.
 */
const SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    messageKey: 'message',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label, number) => ({ severity: SEVERITY[label] ?? 'DEFAULT', level: number }),
      log: (object) => {
        const err = object.err;
        return err instanceof Error && err.stack ? { ...object, stack_trace: err.stack } : object;
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Cloud Logging's field that links a log line to its request's trace. */
export const TRACE_FIELD = 'logging.googleapis.com/trace';

/**
 * The trace and span a request came with: Cloud Run's `x-cloud-trace-context: TRACE/SPAN;o=1` or W3C
 * `traceparent: 00-TRACE-SPAN-FLAGS`. Null when neither is present or well formed.
 */
export function traceOf(headers: IncomingMessage['headers']): { trace: string; span?: string } | null {
  const w3c = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/i.exec(
    String(headers.traceparent ?? ''),
  );
  if (w3c && !/^0+$/.test(w3c[1])) return { trace: w3c[1].toLowerCase(), span: w3c[2].toLowerCase() };
  const cloud = /^([0-9a-f]{32})(?:\/([0-9]+))?/i.exec(String(headers['x-cloud-trace-context'] ?? ''));
  // Its span is decimal; Cloud Logging wants the 16 hex digits of W3C.
  if (cloud)
    return {
      trace: cloud[1].toLowerCase(),
      span: cloud[2] ? BigInt(cloud[2]).toString(16).padStart(16, '0').slice(-16) : undefined,
    };
  return null;
}

/**
 * Fastify options for request ids and request loggers. The request id is the trace id when the request
 * carries one (so a log line, an error body's "see request …" and the trace in Cloud Trace all agree),
 * else 32 random hex digits, the same shape; Fastify logs it as `reqId`. With a project, every request log line also carries
 * `logging.googleapis.com/trace`, which Cloud Logging uses to group a request's lines under it.
 */
export function requestLogging(
  project: string | undefined,
): Pick<FastifyServerOptions, 'genReqId' | 'childLoggerFactory'> {
  return {
    genReqId: (req) => traceOf(req.headers)?.trace ?? randomBytes(16).toString('hex'),
    childLoggerFactory(logger, bindings, options, req) {
      if (!project) return logger.child(bindings, options);
      const trace = traceOf(req.headers);
      const id = trace?.trace ?? String(bindings.reqId);
      return logger.child(
        {
          ...bindings,
          [TRACE_FIELD]: `projects/${project}/traces/${id}`,
          ...(trace?.span ? { 'logging.googleapis.com/spanId': trace.span } : {}),
        },
        options,
      );
    },
  };
}
