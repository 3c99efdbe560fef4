/**
 * Requests as a client may really send them, malformed ones included: any method, a raw URL and a
 * raw body of any content type, signed over exactly those bytes when an app is given (so a signed
 * service lets them through to validation), unsigned otherwise.
 */
import { randomBytes } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { signRequest } from '../../src/http/plugins/signature.ts';

export interface RawRequest {
  method: string;
  url: string;
  /** A string is sent as it is; anything else as JSON. */
  body?: unknown;
  /** Default: application/json when there is a body. */
  contentType?: string;
  headers?: Record<string, string>;
}

export function rawPayload(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  return typeof body === 'string' ? body : JSON.stringify(body);
}

export function rawInject(request: RawRequest, app?: { appId: string; secret: string }): InjectOptions {
  const payload = rawPayload(request.body);
  const headers: Record<string, string> = {
    ...(payload === undefined ? {} : { 'content-type': request.contentType ?? 'application/json' }),
    ...(payload !== undefined || request.contentType === undefined
      ? {}
      : { 'content-type': request.contentType }),
  };
  if (app) {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomBytes(12).toString('hex');
    Object.assign(headers, {
      'x-vkpay-appid': app.appId,
      'x-vkpay-timestamp': timestamp,
      'x-vkpay-nonce': nonce,
      'x-vkpay-signature': signRequest(
        app.secret,
        request.method,
        request.url,
        timestamp,
        nonce,
        payload ?? '',
      ),
    });
  }
  Object.assign(headers, request.headers);
  return {
    method: request.method as InjectOptions['method'],
    url: request.url,
    headers,
    ...(payload === undefined ? {} : { payload }),
  };
}
