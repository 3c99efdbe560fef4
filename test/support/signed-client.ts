/** Signs merchant API requests the way a merchant backend would, for app.inject and real sockets. */
import { randomBytes } from 'node:crypto';
import { signRequest } from '../../src/http/plugins/signature.ts';

export interface SignedInject {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

export function signed(
  app: { appId: string; secret: string },
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  body?: unknown,
  overrides: { timestamp?: string; nonce?: string; secret?: string } = {},
): SignedInject {
  const payload = body === undefined ? '' : JSON.stringify(body);
  const timestamp = overrides.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = overrides.nonce ?? randomBytes(12).toString('hex');
  const signature = signRequest(overrides.secret ?? app.secret, method, url, timestamp, nonce, payload);
  return {
    method,
    url,
    headers: {
      'x-vkpay-appid': app.appId,
      'x-vkpay-timestamp': timestamp,
      'x-vkpay-nonce': nonce,
      'x-vkpay-signature': signature,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { payload }),
  };
}

/** The merchant API over a real socket, signed as `app`: answers the status and the parsed body. */
export function signedApi(
  baseUrl: string,
  app: { appId: string; secret: string },
): (
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: tests read the envelope's fields freely
) => Promise<{ status: number; json: any }> {
  return async (method, path, body) => {
    const request = signed(app, method, path, body);
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: request.headers,
      ...(request.payload === undefined ? {} : { body: request.payload }),
    });
    return { status: response.status, json: await response.json() };
  };
}
