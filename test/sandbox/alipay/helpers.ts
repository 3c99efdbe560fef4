/**
 * Test-side Alipay client pieces written from protocols.md, independent of both the emulator's
 * signing code and the provider's: key generation, signed requests, response-signature checks,
 * and a local notify_url server on a real socket.
 */
import { createSign, createVerify, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AppKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PKCS#1 PEM, the SDK's default key type. */
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateAppKeys(): AppKeys {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey,
    publicKey,
    privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** C.3: sorted, raw values, empty values and sign left out, sign_type kept. */
export function testRequestSigningString(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((key) => key !== 'sign' && params[key] !== '')
    .sort()
    .map((key) => `${key}=${params[key]}`)
    .join('&');
}

/** C.7: like requests, but sign_type is left out too. */
export function testNotifySigningString(params: Record<string, string>): string {
  const { sign_type: _signType, ...rest } = params;
  return testRequestSigningString(rest);
}

export function rsa2Sign(content: string, key: KeyObject): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(key, 'base64');
}

export function rsa2Verify(content: string, signature: string, publicKeyPem: string): boolean {
  return createVerify('RSA-SHA256').update(content, 'utf8').verify(publicKeyPem, signature, 'base64');
}

export function beijingNow(): string {
  return new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

export function signedRequest(
  appId: string,
  method: string,
  biz: Record<string, unknown>,
  key: KeyObject,
  extra: Record<string, string> = {},
): Record<string, string> {
  const params: Record<string, string> = {
    app_id: appId,
    method,
    format: 'JSON',
    charset: 'utf-8',
    sign_type: 'RSA2',
    timestamp: beijingNow(),
    version: '1.0',
    biz_content: JSON.stringify(biz),
    ...extra,
  };
  params.sign = rsa2Sign(testRequestSigningString(params), key);
  return params;
}

export async function postForm(
  url: string,
  params: Record<string, string>,
): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
    body: new URLSearchParams(params).toString(),
  });
  return { status: response.status, text: await response.text() };
}

export interface ParsedResponse {
  inner: Record<string, string>;
  /** The exact text of the response object, as cut from the body. */
  signedText: string;
  sign?: string;
  alipayCertSn?: string;
}

/** Cuts the response object out of the raw body by position, the way clients must (C.4). */
export function parseResponse(body: string, responseKey: string): ParsedResponse {
  const prefix = `{"${responseKey}":`;
  if (!body.startsWith(prefix)) throw new Error(`body does not start with ${prefix}: ${body.slice(0, 80)}`);
  const parsed = JSON.parse(body) as Record<string, unknown>;
  const tail = ['"alipay_cert_sn":', '"sign":']
    .map((marker) => body.lastIndexOf(`,${marker}`))
    .filter((index) => index > 0);
  const end = tail.length > 0 ? Math.min(...tail) : body.length - 1;
  return {
    inner: parsed[responseKey] as Record<string, string>,
    signedText: body.slice(prefix.length, end),
    ...(typeof parsed.sign === 'string' ? { sign: parsed.sign } : {}),
    ...(typeof parsed.alipay_cert_sn === 'string' ? { alipayCertSn: parsed.alipay_cert_sn } : {}),
  };
}

export interface ReceivedNotification {
  at: number;
  rawBody: string;
  contentType: string | undefined;
  params: Record<string, string>;
}

export interface NotifyReceiver {
  url: string;
  received: ReceivedNotification[];
  /** Answers in order; once used up, `fallback` is sent. */
  answers: string[];
  fallback: string;
  close(): Promise<void>;
}

export async function startNotifyReceiver(
  answers: string[] = [],
  fallback = 'success',
): Promise<NotifyReceiver> {
  const receiver: Omit<NotifyReceiver, 'url' | 'close'> = { received: [], answers: [...answers], fallback };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      receiver.received.push({
        at: Date.now(),
        rawBody,
        contentType: request.headers['content-type'],
        params: Object.fromEntries(new URLSearchParams(rawBody)),
      });
      response.end(receiver.answers.shift() ?? receiver.fallback);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/notify/alipay`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as NotifyReceiver;
}

export async function waitFor<T>(probe: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting for condition');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function controlJson<T = Record<string, unknown>>(
  url: string,
  body?: unknown,
  method = body === undefined ? 'GET' : 'POST',
): Promise<{ status: number; json: T }> {
  const response = await fetch(url, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as T };
}

export interface TestApp {
  appId: string;
  keys: AppKeys;
  credentials: Record<string, string>;
  /** Signs and POSTs a gateway.do call; returns the response object and the raw parts. */
  call(
    method: string,
    biz: Record<string, unknown>,
    extra?: Record<string, string>,
  ): Promise<ParsedResponse & { status: number; body: string }>;
}

export async function registerTestApp(
  sandbox: { gatewayUrl: string; controlUrl: string },
  keyMode: 'publicKey' | 'certificate' = 'publicKey',
): Promise<TestApp> {
  const keys = generateAppKeys();
  const { json } = await controlJson<Record<string, string>>(`${sandbox.controlUrl}/apps`, {
    keyMode,
    appPublicKey: keys.publicKeyPem,
  });
  const certParams: Record<string, string> =
    keyMode === 'certificate'
      ? { app_cert_sn: json.appCertSn!, alipay_root_cert_sn: json.alipayRootCertSn! }
      : {};
  return {
    appId: json.appId!,
    keys,
    credentials: json,
    async call(method, biz, extra = {}) {
      const params = signedRequest(json.appId!, method, biz, keys.privateKey, { ...certParams, ...extra });
      const { status, text } = await postForm(sandbox.gatewayUrl, params);
      const responseKey = text.startsWith('{"error_response"')
        ? 'error_response'
        : `${method.replace(/\./g, '_')}_response`;
      return { status, body: text, ...parseResponse(text, responseKey) };
    },
  };
}
