/**
 * A scripted stand-in for api.mch.weixin.qq.com on 127.0.0.1 (a real socket). Each test sets the
 * answer per request; answers are signed by the independent test signer unless told otherwise.
 * This is a network-edge fake for transport cases the emulator cannot produce on demand.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type SigningKey, wechatpayHeaders } from './signer.ts';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface ScriptedReply {
  status: number;
  body?: string | object;
  /** Sign with this key instead of the gateway's default. */
  key?: SigningKey;
  /** Announce this serial instead of the key's. */
  serial?: string;
  /** Seconds added to the gateway clock in Wechatpay-Timestamp. */
  timestampOffset?: number;
  signature?: string;
  /** Change the body after signing (tampering in transit). */
  tamper?: (body: string) => string;
  unsigned?: boolean;
  /** Never answer (the client times out). */
  hang?: boolean;
  headers?: Record<string, string>;
}

export type Script = (request: RecordedRequest) => ScriptedReply | Promise<ScriptedReply>;

export interface TestGateway {
  baseUrl: string;
  requests: RecordedRequest[];
  script: Script;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startGateway(options: {
  key: SigningKey;
  clockMs: () => number;
  script: Script;
}): Promise<TestGateway> {
  const hanging = new Set<ServerResponse>();
  const gateway: TestGateway = {
    baseUrl: '',
    requests: [],
    script: options.script,
    close: async () => {
      for (const response of hanging) response.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer(async (request, response) => {
    const recorded: RecordedRequest = {
      method: request.method ?? 'GET',
      url: request.url ?? '/',
      headers: request.headers,
      body: await readBody(request),
    };
    gateway.requests.push(recorded);
    const reply = await gateway.script(recorded);
    if (reply.hang) {
      hanging.add(response);
      return;
    }
    const body =
      reply.body === undefined
        ? ''
        : typeof reply.body === 'string'
          ? reply.body
          : JSON.stringify(reply.body);
    const signed = reply.unsigned
      ? {}
      : wechatpayHeaders(reply.key ?? options.key, body, {
          timestamp: Math.floor(options.clockMs() / 1000) + (reply.timestampOffset ?? 0),
          ...(reply.signature ? { signature: reply.signature } : {}),
          ...(reply.serial ? { serial: reply.serial } : {}),
        });
    const sent = reply.tamper ? reply.tamper(body) : body;
    response.writeHead(reply.status, {
      ...(sent ? { 'Content-Type': 'application/json' } : {}),
      'Request-ID': `req-${gateway.requests.length}`,
      ...signed,
      ...reply.headers,
    });
    response.end(sent);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gateway.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return gateway;
}
