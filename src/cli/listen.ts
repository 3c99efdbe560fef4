/**
 * `vk-pay listen`: webhooks for a backend that runs on the developer's machine. A listener on
 * 127.0.0.1 becomes a webhook endpoint of the service (made over the merchant API), and each
 * delivery it receives goes on to --forward-to unchanged; VK-Pay gets the backend's answer. On
 * SIGINT or SIGTERM the endpoint is disabled again.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { request } from 'undici';
import { isOrderTypeName } from '../core/validate.ts';
import { isWebhookEventType, WEBHOOK_EVENT_TYPES } from '../core/webhooks.ts';
import { SIGNATURE_HEADERS, signRequest } from '../http/plugins/signature.ts';

export const LISTEN_HELP = `vk-pay listen --forward-to URL [--url SERVICE_URL] [--merchant ID] [--types recharge,vip] [--events payment.succeeded,...]
  Receives the service's webhooks on 127.0.0.1 and forwards each, unchanged (body, webhook-* headers,
  content-type), to your local backend at URL; VK-Pay gets the backend's status (502 when it is
  unreachable). Makes a webhook endpoint over the merchant API and prints its id and signing secret;
  Ctrl-C (or SIGTERM) disables it. The service must reach 127.0.0.1, so run it on the same machine.
  --url       the service (default http://127.0.0.1:3000)
  --merchant  act for this merchant (default: the app's own)
  --types     only these order types (default: the merchant's default endpoint, for types
              without an endpoint of their own)
  --events    only these event types (default: all)
  VKPAY_APP_ID and VKPAY_APP_SECRET, when set, sign the API requests (required outside development).
`;

const DEFAULT_SERVICE_URL = 'http://127.0.0.1:3000';

export interface ListenOptions {
  forwardTo: string;
  serviceUrl: string;
  merchant: string | null;
  orderTypes: string[] | null;
  events: string[] | null;
  /** Signs the API requests when set. */
  app: { appId: string; secret: string } | null;
}

const FLAGS = ['--forward-to', '--url', '--merchant', '--types', '--events'] as const;
type Flag = (typeof FLAGS)[number];

function httpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** A URL fit to be shown in the endpoint's description: a user name or password in it stays here. */
function withoutCredentials(value: string): string {
  const url = new URL(value);
  url.username = '';
  url.password = '';
  return url.href;
}

const commaList = (value: string) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

/** The options, or the problem with the command line (exit code 2). */
export function parseListenArgs(args: string[], env: NodeJS.ProcessEnv): ListenOptions | { problem: string } {
  const given = new Map<Flag, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    if (!(FLAGS as readonly string[]).includes(name!)) return { problem: `unknown argument: ${arg}` };
    const value = inline ?? args[++i];
    if (value === undefined || value === '') return { problem: `${name} needs a value` };
    given.set(name as Flag, value);
  }
  const forwardTo = given.get('--forward-to');
  if (!forwardTo)
    return { problem: '--forward-to URL is required (your backend, e.g. http://localhost:4000/webhooks)' };
  if (!httpUrl(forwardTo)) return { problem: `--forward-to must be an http(s) URL: ${forwardTo}` };
  const serviceUrl = (given.get('--url') ?? DEFAULT_SERVICE_URL).replace(/\/+$/, '');
  if (!httpUrl(serviceUrl)) return { problem: `--url must be the service's http(s) URL: ${serviceUrl}` };
  const orderTypes = given.has('--types') ? commaList(given.get('--types')!) : null;
  const badType = orderTypes?.find((type) => !isOrderTypeName(type));
  if (orderTypes?.length === 0 || badType !== undefined)
    return { problem: `--types must list order types like recharge,vip: ${badType ?? ''}` };
  const events = given.has('--events') ? commaList(given.get('--events')!) : null;
  const badEvent = events?.find((event) => !isWebhookEventType(event));
  if (events?.length === 0 || badEvent !== undefined)
    return { problem: `--events must list some of ${WEBHOOK_EVENT_TYPES.join(', ')}: ${badEvent ?? ''}` };
  const appId = env.VKPAY_APP_ID;
  const appSecret = env.VKPAY_APP_SECRET;
  if (Boolean(appId) !== Boolean(appSecret))
    return { problem: 'set both VKPAY_APP_ID and VKPAY_APP_SECRET to sign requests, or neither' };
  return {
    forwardTo,
    serviceUrl,
    merchant: given.get('--merchant') ?? null,
    orderTypes,
    events,
    app: appId && appSecret ? { appId, secret: appSecret } : null,
  };
}

interface ApiAnswer {
  status: number;
  json: { code?: number; msg?: string; data?: unknown } | null;
}

/** Refused by the service: the message of its error envelope, and the exit code it deserves. */
class ServiceRefusal extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** One merchant API call, signed as README's "Signatures" section says when an app is given. */
async function callService(
  options: ListenOptions,
  method: 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<ApiAnswer> {
  const pathWithQuery = options.merchant ? `${path}?merchant=${encodeURIComponent(options.merchant)}` : path;
  const payload = body === undefined ? '' : JSON.stringify(body);
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  if (options.app) {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomBytes(12).toString('hex');
    headers[SIGNATURE_HEADERS.appId] = options.app.appId;
    headers[SIGNATURE_HEADERS.timestamp] = timestamp;
    headers[SIGNATURE_HEADERS.nonce] = nonce;
    headers[SIGNATURE_HEADERS.signature] = signRequest(
      options.app.secret,
      method,
      pathWithQuery,
      timestamp,
      nonce,
      payload,
    );
  }
  let response: Response;
  try {
    response = await fetch(`${options.serviceUrl}${pathWithQuery}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: payload }),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new ServiceRefusal(`cannot reach VK-Pay at ${options.serviceUrl}: ${reason(error)}`, 1);
  }
  const text = await response.text();
  let json: ApiAnswer['json'] = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not the API (a proxy's page, another service): reported below with the status.
  }
  if (response.ok && json?.code === 0) return { status: response.status, json };
  const message = json?.msg ? `${json.msg} (code ${json.code})` : `HTTP ${response.status}`;
  // A request the service refuses as such (bad field, signature, permission) is bad usage.
  const exitCode = [400, 401, 403].includes(response.status) ? 2 : 1;
  throw new ServiceRefusal(`VK-Pay refused ${method} ${path}: ${message}`, exitCode);
}

/** The system's code of a network failure (ECONNREFUSED, ...), or its message. */
function reason(error: unknown): string {
  const failure = error as { code?: unknown; cause?: { code?: unknown; message?: string } } | null;
  for (const code of [failure?.cause?.code, failure?.code])
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  return error instanceof Error ? (failure?.cause?.message ?? error.message) : String(error);
}

/** The headers that make a delivery verifiable, passed on as they came. */
function forwardedHeaders(incoming: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value === undefined) continue;
    if (name.startsWith('webhook-') || name === 'content-type' || name === 'user-agent')
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** What one line of output says about a delivery: its type and order, read from the body. */
function describeEvent(body: Buffer): { type: string; outTradeNo: string } {
  try {
    const event = JSON.parse(body.toString('utf8')) as {
      type?: unknown;
      data?: Record<string, { out_trade_no?: unknown } | undefined>;
    };
    const data = event.data ?? {};
    const outTradeNo = data.order?.out_trade_no ?? data.refund?.out_trade_no ?? data.review?.out_trade_no;
    return {
      type: typeof event.type === 'string' ? event.type : '?',
      outTradeNo: typeof outTradeNo === 'string' ? outTradeNo : '-',
    };
  } catch {
    return { type: '(not JSON)', outTradeNo: '-' };
  }
}

interface Forwarder {
  url: string;
  /** How long the backend may take; VK-Pay gives up after the endpoint's timeout anyway. */
  timeoutMs: number;
  close(): Promise<void>;
}

async function startForwarder(forwardTo: string, print: (line: string) => void): Promise<Forwarder> {
  const forwarder: Forwarder = { url: '', timeoutMs: 10_000, close: async () => {} };

  const forward = async (incoming: IncomingMessage, answer: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const { type, outTradeNo } = describeEvent(body);
    const webhookId = String(incoming.headers['webhook-id'] ?? '-');
    let status: number;
    let outcome: string;
    try {
      const backend = await request(forwardTo, {
        method: 'POST',
        headers: forwardedHeaders(incoming),
        body,
        headersTimeout: forwarder.timeoutMs,
        bodyTimeout: forwarder.timeoutMs,
        signal: AbortSignal.timeout(forwarder.timeoutMs),
      });
      const reply = Buffer.from(await backend.body.arrayBuffer());
      status = backend.statusCode;
      outcome = String(status);
      const contentType = backend.headers['content-type'];
      answer.writeHead(status, contentType ? { 'content-type': String(contentType) } : {});
      answer.end(reply);
    } catch (error) {
      const timedOut = /timeout|aborted/i.test(`${reason(error)} ${(error as Error)?.name ?? ''}`);
      status = timedOut ? 504 : 502;
      outcome = timedOut
        ? `${status} (no answer within ${forwarder.timeoutMs} ms)`
        : `${status} (backend unreachable: ${reason(error)})`;
      answer.writeHead(status, { 'content-type': 'text/plain' });
      answer.end(`vk-pay listen: ${outcome}`);
    }
    print(`${new Date().toISOString()}  ${type}  ${webhookId}  ${outTradeNo}  -> ${outcome}`);
  };

  const server: Server = createServer((incoming, answer) => {
    if (incoming.method !== 'POST') {
      answer.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    forward(incoming, answer).catch((error: unknown) => {
      print(`${new Date().toISOString()}  could not forward a delivery: ${reason(error)}`);
      if (!answer.headersSent) answer.writeHead(502);
      answer.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  forwarder.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/vk-pay-listen`;
  forwarder.close = () =>
    new Promise<void>((resolve) => {
      // A delivery in flight gets a moment to finish; then the connections are dropped.
      const force = setTimeout(() => server.closeAllConnections(), 2_000);
      server.closeIdleConnections();
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
    });
  return forwarder;
}

export interface ListenIo {
  env: NodeJS.ProcessEnv;
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: ListenIo = {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs until `stopped` resolves (a signal); returns the exit code. */
export async function runListen(
  args: string[],
  stopped: Promise<void>,
  io: ListenIo = processIo,
): Promise<number> {
  const options = parseListenArgs(args, io.env);
  if ('problem' in options) {
    io.stderr(`vk-pay listen: ${options.problem}\n\n${LISTEN_HELP}`);
    return 2;
  }
  const forwarder = await startForwarder(options.forwardTo, (line) => io.stdout(`${line}\n`));
  let endpoint: { id: string; timeout_ms: number };
  let secret: string;
  try {
    const made = await callService(options, 'POST', '/api/webhooks/endpoints', {
      url: forwarder.url,
      ...(options.orderTypes ? { order_types: options.orderTypes } : {}),
      ...(options.events ? { events: options.events } : {}),
      description: `vk-pay listen on ${hostname()} to ${withoutCredentials(options.forwardTo)}`.slice(0, 200),
    });
    ({ endpoint, secret } = made.json!.data as { endpoint: typeof endpoint; secret: string });
  } catch (error) {
    await forwarder.close();
    io.stderr(`vk-pay listen: ${(error as Error).message}\n`);
    return error instanceof ServiceRefusal ? error.exitCode : 1;
  }
  forwarder.timeoutMs = endpoint.timeout_ms;
  io.stdout(
    [
      `Forwarding webhooks from ${options.serviceUrl}${options.merchant ? ` (merchant ${options.merchant})` : ''} to ${options.forwardTo}`,
      `  endpoint ${endpoint.id}: ${options.orderTypes ? `order types ${options.orderTypes.join(', ')}` : 'the default endpoint (order types without one of their own)'}; ${options.events ? options.events.join(', ') : 'every event'}`,
      `  secret   ${secret}`,
      `  (each run makes a new endpoint and secret; verify the deliveries with it, as Standard Webhooks do)`,
      `  listener ${forwarder.url}`,
      'Ctrl-C disables the endpoint and stops.',
      '',
    ].join('\n'),
  );

  await stopped;
  let code = 0;
  try {
    await callService(options, 'DELETE', `/api/webhooks/endpoints/${endpoint.id}`);
    io.stdout(`disabled endpoint ${endpoint.id}\n`);
  } catch (error) {
    io.stderr(
      `vk-pay listen: could not disable endpoint ${endpoint.id}: ${(error as Error).message}\n  disable it with DELETE /api/webhooks/endpoints/${endpoint.id}\n`,
    );
    code = 1;
  }
  await forwarder.close();
  return code;
}
