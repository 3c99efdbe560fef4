/**
 * Every failure leaves as the unified envelope, the framework's own included. Fastify's client
 * errors (bad JSON, body too large, wrong content type, bad URL encoding, schema violations) become
 * 40001 with their proper 4xx status, an unknown route 404 and a known path with the wrong method
 * 405: a client mistake never answers 5xx.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PayError } from '../core/errors.ts';
import { problemsError } from '../core/validate.ts';
import { failure, languageOf } from './envelope.ts';
import { type SchemaIssue, schemaProblems } from './request-problems.ts';

/** Paths echoed in a reason are cut here: a URL may be many kilobytes long. */
const MAX_ECHOED_PATH = 200;

function pathOf(request: FastifyRequest): string {
  const path = request.url.split('?')[0] ?? '';
  return path.length > MAX_ECHOED_PATH ? `${path.slice(0, MAX_ECHOED_PATH)}...` : path;
}

/** Fastify's own client errors: the status they deserve and what to tell the caller. */
const FRAMEWORK_ERRORS: Record<
  string,
  { status: number; field?: string; reason(request: FastifyRequest): string }
> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    field: 'content-type',
    reason: (request) =>
      `content-type ${JSON.stringify(String(request.headers['content-type'] ?? '').slice(0, 100))} is not accepted here; send application/json`,
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    field: 'content-length',
    reason: () => 'content-length does not match the body',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    field: '(body)',
    reason: () => 'the body is larger than this route accepts',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, field: '(body)', reason: () => 'body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    field: '(body)',
    reason: () => 'body is empty but content-type says JSON',
  },
  FST_ERR_BAD_URL: {
    status: 400,
    field: '(path)',
    reason: (request) => `the path ${pathOf(request)} is not valid percent-encoded UTF-8`,
  },
  FST_ERR_MAX_PARAM_LENGTH: {
    status: 414,
    field: '(path)',
    reason: () => 'a path parameter is longer than any identifier this API takes',
  },
};

/** The unified answer to any error; framework errors arrive here from the error handler and frameworkErrors. */
export function answerError(
  error: FastifyError & { validation?: SchemaIssue[] },
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  let payError: unknown = error;
  let status: number | undefined;
  const known = typeof error.code === 'string' ? FRAMEWORK_ERRORS[error.code] : undefined;
  if (error.validation) {
    payError = problemsError(
      schemaProblems(error.validation, (error as { validationContext?: string }).validationContext),
    );
  } else if (known) {
    status = known.status;
    payError = new PayError(40001, {
      ...(known.field ? { field: known.field } : {}),
      message: known.reason(request),
    });
  } else if (
    !(error instanceof PayError) &&
    typeof error.statusCode === 'number' &&
    error.statusCode >= 400 &&
    error.statusCode < 500
  ) {
    status = error.statusCode;
    payError = new PayError(error.statusCode === 429 ? 40008 : 40001, { message: error.message });
  }
  const result = failure(payError, request);
  const retryAfter = (result.payError.details as { retryAfterSeconds?: unknown } | undefined)
    ?.retryAfterSeconds;
  if (result.payError.code === 40008 && typeof retryAfter === 'number')
    reply.header('retry-after', String(retryAfter));
  if (result.status >= 500) request.log.error({ err: error }, 'request failed');
  reply.header('x-request-id', request.id);
  reply.status(status ?? result.status).send(result.body);
}

interface KnownRoute {
  methods: string[];
  pattern: RegExp;
}

/** A route's URL as a pattern over raw paths: `:param` is one segment, `*` the rest. */
function routePattern(url: string): RegExp {
  const source = url
    .split(/(:[A-Za-z0-9_]+|\*)/)
    .map((part) => {
      if (part === '*') return '.*';
      if (part.startsWith(':')) return '[^/]+';
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${source}$`);
}

export function installErrorHandler(app: FastifyInstance): void {
  const routes: KnownRoute[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    routes.push({ methods: methods.map(String), pattern: routePattern(route.url) });
  });

  app.setErrorHandler(answerError);

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = [
      ...new Set(routes.filter((route) => route.pattern.test(path)).flatMap((route) => route.methods)),
    ];
    const payError =
      allowed.length > 0
        ? new PayError(40001, {
            field: 'method',
            message: `${request.method} is not allowed on ${pathOf(request)}; use ${allowed.join(', ')}`,
          })
        : new PayError(40001, { message: `no route ${request.method} ${pathOf(request)}` });
    if (allowed.length > 0) reply.header('allow', allowed.join(', '));
    reply
      .status(allowed.length > 0 ? 405 : 404)
      .send({ ...payError.toResult(languageOf(request)), requestId: request.id });
  });
}
