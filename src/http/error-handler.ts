import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Engine } from '../db/engine.js';
import { AppError, type ErrorCode } from '../errors.js';

/**
 * The one place where errors become HTTP answers: `{ error: { code, message } }`. A caller's mistake
 * is a 4xx with a stable code; an internal error is a 500 whose body hides the cause (it is logged).
 */
export function installErrorHandler(app: FastifyInstance, engine: Engine) {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const appError = toAppError(err, engine);
    if (appError.status >= 500) request.log.error({ err }, appError.message);
    else request.log.info({ code: appError.code }, appError.message);
    const message =
      appError.code === 'internal_error'
        ? `internal error; see the server log for request ${request.id}`
        : appError.message;
    if (appError.status === 503) reply.header('retry-after', '5');
    return reply
      .status(appError.status)
      .send({ error: { code: appError.code, message, ...appError.details } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` },
    }),
  );
}

export function toAppError(err: FastifyError, engine: Engine): AppError {
  if (err instanceof AppError) return err;
  const kind = engine.classify(err);
  if (kind === 'unavailable')
    return new AppError('database_unavailable', 'the database cannot be reached; try again shortly', {
      cause: err,
    });
  if (kind === 'busy' || kind === 'deadlock')
    return new AppError(
      'database_busy',
      'the database is busy with another write (a load or restore); try again shortly',
      { cause: err },
    );
  if (err.validation)
    return new AppError('invalid_request', `invalid request: ${err.message}`, { cause: err });
  const byCode: Record<string, ErrorCode> = {
    FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
    FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  };
  const code = err.code && byCode[err.code];
  if (code) return new AppError(code, messageFor(code, err), { cause: err });
  if (err instanceof SyntaxError || (err.statusCode === 400 && /json/i.test(err.message))) {
    return new AppError('invalid_json', `the body is not valid JSON: ${err.message}`, { cause: err });
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    const generic: ErrorCode =
      err.statusCode === 404 ? 'not_found' : err.statusCode === 413 ? 'payload_too_large' : 'invalid_request';
    return new AppError(generic, err.message, { cause: err });
  }
  return new AppError('internal_error', err.message, { cause: err });
}

function messageFor(code: ErrorCode, err: FastifyError): string {
  if (code === 'payload_too_large')
    return 'the body is larger than the server accepts (MAX_BODY_BYTES); send fewer rows per request';
  if (code === 'unsupported_media_type') return 'send application/json or text/csv';
  return err.message;
}

/**
 * Errors Fastify raises before routing (a path segment over maxParamLength, bad percent-encoding), in
 * the API's error shape rather than Fastify's own, which would also echo the whole URL back.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const path = request.url.split('?')[0];
  const why =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'a path segment is longer than 1000 characters'
      : 'the path is not valid percent-encoded UTF-8';
  request.log.info({ code: err.code }, why);
  return reply.status(400).send({
    error: {
      code: 'invalid_request',
      message: `${why}: ${path.length > 100 ? `${path.slice(0, 100)}…` : path}`,
    },
  });
}
