/** The unified result envelope every API answer uses. */
import type { FastifyRequest } from 'fastify';
import { type ErrorResult, type Lang, type PayError, toPayError } from '../core/errors.ts';

export interface Success<T> {
  code: 0;
  msg: 'ok';
  data: T;
}

export function ok<T>(data: T): Success<T> {
  return { code: 0, msg: 'ok', data };
}

/** Chinese unless the caller prefers English. */
export function languageOf(request: FastifyRequest): Lang {
  const header = request.headers['accept-language'];
  const first = (Array.isArray(header) ? header[0] : header)?.trim().toLowerCase() ?? '';
  return first.startsWith('en') ? 'en' : 'zh';
}

export function failure(
  error: unknown,
  request: FastifyRequest,
): { status: number; body: ErrorResult; payError: PayError } {
  const payError = toPayError(error);
  return {
    status: payError.httpStatus,
    body: { ...payError.toResult(languageOf(request)), requestId: request.id },
    payError,
  };
}
