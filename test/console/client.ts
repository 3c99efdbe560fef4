/**
 * A browser's side of the console over `inject`: a cookie jar, the CSRF token of the last page,
 * and the service's own Origin on every change, as a console page would send them.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Secret, TOTP } from 'otpauth';
import { buildApp } from '../../src/http/app.ts';
import { createUser, SYSTEM } from '../../src/service/console/accounts.ts';
import type { ConsoleRole } from '../../src/store/schema.ts';
import type { VkPay } from '../../src/vk-pay.ts';

export const ORIGIN = 'http://localhost:80';

export interface SetCookie {
  name: string;
  value: string;
  attributes: string;
}

export function setCookies(response: LightMyRequestResponse): SetCookie[] {
  const header = response.headers['set-cookie'];
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return lines.map((line) => {
    const [pair = '', ...rest] = line.split(';');
    const at = pair.indexOf('=');
    return { name: pair.slice(0, at), value: pair.slice(at + 1), attributes: rest.join(';').trim() };
  });
}

export class ConsoleClient {
  readonly jar = new Map<string, string>();
  csrf = '';
  constructor(
    readonly app: FastifyInstance,
    readonly ip = '127.0.0.1',
  ) {}

  cookieHeader(): string {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async send(
    method: 'GET' | 'POST',
    url: string,
    options: {
      json?: unknown;
      form?: Record<string, string>;
      headers?: Record<string, string>;
      html?: boolean;
    } = {},
  ): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = {
      accept: options.html ? 'text/html' : 'application/json',
      ...(this.jar.size > 0 ? { cookie: this.cookieHeader() } : {}),
      ...(method === 'POST' ? { origin: ORIGIN, 'x-csrf-token': this.csrf } : {}),
      ...(options.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      ...options.headers,
    };
    const response = await this.app.inject({
      method,
      url,
      headers,
      remoteAddress: this.ip,
      ...(options.json !== undefined ? { payload: options.json as object } : {}),
      ...(options.form ? { payload: new URLSearchParams(options.form).toString() } : {}),
    });
    for (const cookie of setCookies(response)) {
      if (/expires=Thu, 01 Jan 1970/i.test(cookie.attributes) || cookie.value === '')
        this.jar.delete(cookie.name);
      else this.jar.set(cookie.name, cookie.value);
    }
    const type = String(response.headers['content-type'] ?? '');
    if (type.includes('json')) {
      const token = (response.json() as { data?: { csrfToken?: unknown } }).data?.csrfToken;
      if (typeof token === 'string') this.csrf = token;
    } else if (type.includes('html')) {
      const token = /name="_csrf" value="([^"]+)"/.exec(response.body)?.[1];
      if (token) this.csrf = token;
    }
    return response;
  }

  get(url: string, options: { html?: boolean; headers?: Record<string, string> } = {}) {
    return this.send('GET', url, options);
  }

  post(url: string, json: unknown = {}, headers: Record<string, string> = {}) {
    return this.send('POST', url, { json, headers });
  }

  /** Opens the sign-in page (for its CSRF token) and signs in. */
  async signIn(name: string, password: string): Promise<LightMyRequestResponse> {
    await this.get('/console/login');
    return this.post('/console/login', { name, password });
  }
}

export async function consoleApp(vkPay: VkPay): Promise<FastifyInstance> {
  return buildApp({ vkPay, docs: false });
}

export const PASSWORD = 'correct horse battery staple';

export async function addUser(
  vkPay: VkPay,
  name: string,
  role: ConsoleRole,
  merchantIds: string[] | null = null,
): Promise<void> {
  await createUser(vkPay.store.db, SYSTEM, { name, role, merchantIds, password: PASSWORD });
}

/** The code an authenticator app would show for `uri` at `at` (ms). */
export function codeFor(uri: string, at: number): string {
  const secret = new URL(uri).searchParams.get('secret')!;
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at });
}
