/**
 * A merchant backend calling the service through the balancer: signed requests (X-VkPay-*), every
 * answer counted by status, and the retries a real client makes on 429, 502 and 503 (a new nonce
 * each time). Client mistakes are sent on purpose and must never be answered 5xx, except the
 * 503/40010 the service gives any signed request while a server it needs is down.
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { signRequest } from '../../src/http/plugins/signature.ts';

export interface Answer {
  status: number;
  body: {
    code?: number;
    data?: { order?: { status?: string }; refund?: { status?: string } };
    field?: string;
    reason?: string;
  } | null;
  /** The body text, for the rare answer that is not JSON. */
  text: string;
}

export interface ApiApp {
  appId: string;
  secret: string;
}

export interface Outage {
  what: string;
  from: number;
  to: number | null;
}

export interface Client {
  /** Answers by status, over the whole run. */
  statuses: Record<string, number>;
  /** Client mistakes sent, and those answered 5xx outside an outage (violations). */
  mistakes: { sent: number; by4xx: number; busyDuringOutage: number; fiveXx: string[] };
  /** Windows in which the service may answer 503/40010. */
  outages: Outage[];
  send(method: string, path: string, body?: unknown, options?: SendOptions): Promise<Answer>;
  /** Sends until the answer is neither 429, 502, 503 nor a network error, or `timeoutMs` passes. */
  call(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<Answer>;
  /** One request the service must refuse with a 4xx; counted. */
  mistake(kind?: number): Promise<void>;
  close(): Promise<void>;
}

export interface SendOptions {
  app?: ApiApp;
  nonce?: string;
  timestamp?: string;
  secret?: string;
  /** Raw body text (sent as is, signed as is). */
  raw?: string;
  unsigned?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createClient(baseUrl: string, app: ApiApp): Client {
  const agent = new Agent({ connections: 64, keepAliveTimeout: 4_000 });
  const statuses: Record<string, number> = {};
  const outages: Outage[] = [];
  const mistakes = { sent: 0, by4xx: 0, busyDuringOutage: 0, fiveXx: [] as string[] };

  async function send(
    method: string,
    path: string,
    body?: unknown,
    options: SendOptions = {},
  ): Promise<Answer> {
    const signer = options.app ?? app;
    const payload = options.raw ?? (body === undefined ? '' : JSON.stringify(body));
    const timestamp = options.timestamp ?? String(Math.floor(Date.now() / 1000));
    const nonce = options.nonce ?? randomBytes(12).toString('hex');
    const headers: Record<string, string> = {};
    if (!options.unsigned) {
      headers['x-vkpay-appid'] = signer.appId;
      headers['x-vkpay-timestamp'] = timestamp;
      headers['x-vkpay-nonce'] = nonce;
      headers['x-vkpay-signature'] = signRequest(
        options.secret ?? signer.secret,
        method,
        path,
        timestamp,
        nonce,
        payload,
      );
    }
    if (payload !== '' || body !== undefined) headers['content-type'] = 'application/json';
    try {
      const response = await request(`${baseUrl}${path}`, {
        method: method as 'GET',
        headers,
        body: method === 'GET' ? null : payload,
        dispatcher: agent,
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
      const text = await response.body.text();
      statuses[String(response.statusCode)] = (statuses[String(response.statusCode)] ?? 0) + 1;
      let parsed: Answer['body'] = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null;
      }
      return { status: response.statusCode, body: parsed, text };
    } catch (error) {
      statuses.network = (statuses.network ?? 0) + 1;
      return { status: 0, body: null, text: String(error) };
    }
  }

  const inOutage = (at: number) =>
    outages.some((o) => at >= o.from - 1000 && at <= (o.to ?? Infinity) + 3000);

  const MISTAKES: Array<() => Promise<[string, Answer]>> = [
    async () => ['unknown order', await send('GET', `/api/payments/NOSUCH${randomBytes(4).toString('hex')}`)],
    async () => [
      'amount 0',
      await send('POST', '/api/payments', {
        provider: 'wxpay',
        out_trade_no: `BAD${randomBytes(4).toString('hex')}`,
        total_fee: 0,
        subject: 'mistake',
        type: 'goods',
      }),
    ],
    async () => [
      'refund of an unknown order',
      await send('POST', '/api/refunds', {
        out_trade_no: `NOSUCH${randomBytes(4).toString('hex')}`,
        out_refund_no: `R${randomBytes(6).toString('hex')}`,
        refund_fee: 1,
      }),
    ],
    async () => ['bad JSON', await send('POST', '/api/payments', undefined, { raw: '{"provider":' })],
    async () => [
      'wrong signature',
      await send('GET', '/api/payments/SOAKANY', undefined, { secret: 'x'.repeat(40) }),
    ],
    async () => ['unsigned', await send('GET', '/api/payments/SOAKANY', undefined, { unsigned: true })],
    async () => ['unknown route', await send('GET', '/api/nothing-here')],
  ];

  return {
    statuses,
    mistakes,
    outages,
    send,
    async call(method, path, body, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (let attempt = 0; ; attempt++) {
        const answer = await send(method, path, body);
        const retry =
          answer.status === 0 || answer.status === 429 || answer.status === 502 || answer.status === 503;
        if (!retry || Date.now() > deadline) return answer;
        await sleep(Math.min(50 * 2 ** attempt, 1000));
      }
    },
    async mistake(kind) {
      const pick = kind ?? Math.floor(Math.random() * MISTAKES.length);
      const at = Date.now();
      const [what, answer] = await MISTAKES[pick % MISTAKES.length]!();
      mistakes.sent += 1;
      if (answer.status >= 400 && answer.status < 500) mistakes.by4xx += 1;
      else if (answer.status === 503 && answer.body?.code === 40010 && inOutage(at))
        mistakes.busyDuringOutage += 1;
      else if (answer.status === 429) mistakes.by4xx += 1;
      else mistakes.fiveXx.push(`${what}: ${answer.status} ${answer.text.slice(0, 200)}`);
    },
    close: () => agent.close(),
  };
}
