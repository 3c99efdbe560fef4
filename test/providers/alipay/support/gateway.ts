/**
 * A scripted stand-in for gateway.do on 127.0.0.1 (a real socket). Each test sets the answer per
 * request; answers are signed by the independent test signer unless told otherwise. This is a
 * network-edge fake for transport cases; the Alipay emulator covers the protocol end to end.
 */
import type { KeyObject } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { alipayJson, requestParams, signedResponseBody } from './signer.ts';

export interface RecordedRequest {
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  params: Record<string, string>;
  biz: Record<string, unknown>;
}

export interface ScriptedReply {
  status?: number;
  /** The inner `<method>_response` object (signed), unless `raw` is given. */
  response?: Record<string, unknown>;
  /** Answer under error_response instead of `<method>_response`. */
  errorResponse?: boolean;
  /** Send this body verbatim. */
  raw?: string;
  key?: KeyObject;
  certSn?: string;
  /** Change the body after signing (tampering in transit). */
  tamper?: (body: string) => string;
  hang?: boolean;
}

export type Script = (request: RecordedRequest) => ScriptedReply;

export interface TestGateway {
  url: string;
  requests: RecordedRequest[];
  script: Script;
  close(): Promise<void>;
}

export async function startGateway(key: KeyObject, script: Script): Promise<TestGateway> {
  const hanging = new Set<ServerResponse>();
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const params = requestParams(request.url ?? '/', body);
    const recorded: RecordedRequest = {
      url: request.url ?? '/',
      headers: request.headers,
      body,
      params,
      biz: params.biz_content ? (JSON.parse(params.biz_content) as Record<string, unknown>) : {},
    };
    gateway.requests.push(recorded);
    const reply = gateway.script(recorded);
    if (reply.hang) {
      hanging.add(response);
      return;
    }
    const method = params.method ?? 'unknown';
    const responseKey = reply.errorResponse ? 'error_response' : `${method.replace(/\./g, '_')}_response`;
    let text =
      reply.raw ??
      signedResponseBody(reply.key ?? key, responseKey, alipayJson(reply.response ?? {}), {
        ...(reply.certSn ? { certSn: reply.certSn } : {}),
      });
    if (reply.tamper) text = reply.tamper(text);
    response.writeHead(reply.status ?? 200, {
      'Content-Type': 'text/html;charset=utf-8',
      trace_id: 'trace-1',
    });
    response.end(text);
  });
  const gateway: TestGateway = {
    url: '',
    requests: [],
    script,
    close: async () => {
      for (const response of hanging) response.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gateway.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/gateway.do`;
  return gateway;
}
