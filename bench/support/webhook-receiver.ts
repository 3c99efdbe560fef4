/**
 * A merchant endpoint for the webhook benchmark, in the bench process on 127.0.0.1: it notes when
 * each event arrived (by the order's out_trade_no, on this process's performance.now() clock),
 * answers 200 at once, then checks the signature. Every event must verify; one that arrives again
 * (delivery is at least once) is counted, its first arrival kept.
 */
import { createServer } from 'node:http';
import { verifyWebhook } from '../../src/core/webhooks.ts';

export interface WebhookReceiver {
  /** The endpoint's URL, for the service's config. */
  url: string;
  /** When the event for each order arrived (performance.now(), ms): the first arrival. */
  arrivals: Map<string, number>;
  /** Waits until an event arrived for every one of `outTradeNos`; throws after `timeoutMs`. */
  waitFor(outTradeNos: readonly string[], timeoutMs: number): Promise<void>;
  /** Events that arrived more than once. */
  duplicates(): number;
  /** Throws if any delivery did not verify or was not a payment.succeeded. */
  check(): void;
  close(): Promise<void>;
}

const header = (value: string | string[] | undefined) =>
  Array.isArray(value) ? (value[0] ?? '') : (value ?? '');

export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const arrivals = new Map<string, number>();
  const problems: string[] = [];
  let duplicates = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const arrivedMs = performance.now();
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = {
        id: header(request.headers['webhook-id']),
        timestamp: header(request.headers['webhook-timestamp']),
        signature: header(request.headers['webhook-signature']),
      };
      if (!verifyWebhook(secret, headers, body, Math.floor(Date.now() / 1000))) {
        problems.push(`event ${headers.id} did not verify`);
        return;
      }
      const event = JSON.parse(body) as { type?: string; data?: { order?: { out_trade_no?: string } } };
      const outTradeNo = event.data?.order?.out_trade_no;
      if (event.type !== 'payment.succeeded' || !outTradeNo) {
        problems.push(`event ${headers.id} is a ${event.type}, not a payment.succeeded with an order`);
        return;
      }
      if (arrivals.has(outTradeNo)) duplicates += 1;
      else arrivals.set(outTradeNo, arrivedMs);
    });
  });
  // The worker keeps its connections open between deliveries, as a merchant's server would allow.
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    arrivals,
    async waitFor(outTradeNos, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      let missing = outTradeNos.filter((no) => !arrivals.has(no));
      while (missing.length > 0) {
        if (performance.now() > deadline)
          throw new Error(
            `${missing.length} of ${outTradeNos.length} webhook events had not arrived ${timeoutMs} ms on`,
          );
        await new Promise((resolve) => setTimeout(resolve, 5));
        missing = missing.filter((no) => !arrivals.has(no));
      }
    },
    check() {
      if (problems.length > 0)
        throw new Error(`${problems.length} webhook deliveries refused: ${problems.slice(0, 3).join('; ')}`);
    },
    duplicates: () => duplicates,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
