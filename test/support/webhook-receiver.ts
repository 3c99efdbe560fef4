/**
 * A merchant backend receiving VK-Pay webhooks on a real socket. Each delivery is checked with the
 * independent `standardwebhooks` package against every secret the test gives it, and recorded with
 * what it answered; the test scripts the answers (500 five times, a slow answer, a closed port).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';

export interface Received {
  path: string;
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  json: any;
  /** For each secret of `secrets` (in order): did the delivery verify with it. */
  verified: boolean[];
  answered: number;
  at: number;
}

export interface WebhookReceiver {
  url: string;
  received: Received[];
  /** Secrets to check each delivery against (Standard Webhooks `whsec_...`). */
  secrets: string[];
  /** Answers, consumed in order; when empty, `fallback`. */
  script: number[];
  fallback: number;
  /** Wait this long before answering. */
  delayMs: number;
  /** Deliveries that verified with `secrets[0]`, by type. */
  verifiedOf(type?: string): Received[];
  close(): Promise<void>;
}

const header = (headers: IncomingHttpHeaders, name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
};

export async function startWebhookReceiver(secrets: string[] = []): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    secrets,
    script: [],
    fallback: 200,
    delayMs: 0,
    verifiedOf(type) {
      return receiver.received.filter(
        (item) => item.verified[0] && (type === undefined || item.json?.type === type),
      );
    },
    close: async () => {},
  };
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = {
      'webhook-id': header(request.headers, 'webhook-id'),
      'webhook-timestamp': header(request.headers, 'webhook-timestamp'),
      'webhook-signature': header(request.headers, 'webhook-signature'),
    };
    const verified = receiver.secrets.map((secret) => {
      try {
        new Webhook(secret).verify(body, headers);
        return true;
      } catch {
        return false;
      }
    });
    const status = receiver.script.length > 0 ? receiver.script.shift()! : receiver.fallback;
    let json: unknown = null;
    try {
      json = JSON.parse(body);
    } catch {
      // Recorded as text.
    }
    receiver.received.push({
      path: request.url ?? '',
      id: headers['webhook-id'],
      timestamp: headers['webhook-timestamp'],
      signature: headers['webhook-signature'],
      body,
      json,
      verified,
      answered: status,
      at: Date.now(),
    });
    if (receiver.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, receiver.delayMs));
    response.writeHead(status, { 'content-type': 'text/plain' });
    response.end(status < 300 ? 'ok' : `failed with ${status}`);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  receiver.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}
