/**
 * Every failure leaves as the unified envelope. Fastify's own client errors (bad JSON, body too
 * large, wrong content type, schema violations) become 40001 with their proper 4xx status: a
 * client mistake never answers 5xx.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { PayError } from '../core/errors.ts';
import { failure, languageOf } from './envelope.ts';

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

function fieldOf(issue: ValidationIssue): string {
  const path = (issue.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
  if (issue.keyword === 'required')
    return [path, String(issue.params?.missingProperty ?? '')].filter(Boolean).join('.');
  if (issue.keyword === 'additionalProperties') {
    return [path, String(issue.params?.additionalProperty ?? '')].filter(Boolean).join('.');
  }
  return path || '(body)';
}

function messageOf(issue: ValidationIssue): string {
  if (issue.keyword === 'additionalProperties') return 'is not a known field';
  if (issue.keyword === 'required') return 'is required';
  return issue.message ?? 'is invalid';
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError & { validation?: ValidationIssue[] }, request, reply) => {
    let payError: unknown = error;
    let status: number | undefined;
    if (error.validation) {
      const problems = error.validation.map((issue) => ({
        field: fieldOf(issue),
        message: `${fieldOf(issue)} ${messageOf(issue)}`,
      }));
      payError = new PayError(40001, {
        field: problems[0]?.field,
        message: problems.map((p) => p.message).join('; '),
        details: { problems },
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
    reply.status(status ?? result.status).send(result.body);
  });

  app.setNotFoundHandler((request, reply) => {
    const body = new PayError(40005, {
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
    }).toResult(languageOf(request));
    reply.status(404).send({ ...body, requestId: request.id });
  });
}
