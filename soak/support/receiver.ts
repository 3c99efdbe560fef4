/**
 * The merchant's webhook endpoint, in the soak process: every delivery verified with the endpoint's
 * secret, a share answered 500 on purpose (the merchant's handler failing; the service must retry),
 * a share accepted too late (after the endpoint's timeout: the service retries what was in fact
 * handled), the rest 200 at once. Events are deduplicated by their id, as a merchant must: each id counts once.
 */
import { createServer } from 'node:http';
import { verifyWebhook } from '../../src/core/webhooks.ts';

export interface ReceivedEvent {
  type: string;
  outTradeNo: string | null;
  outRefundNo: string | null;
  /** Deliveries of this id answered 200 (more than one: a redelivery, ignored by the dedupe). */
  accepted: number;
}

export interface Receiver {
  url: string;
  /** Share of deliveries answered 500 (0..1); changed by phases. */
  failShare: number;
  /** Share of deliveries accepted (200) only after `slowMs`, past the endpoint's timeout: the
   * service counts them failed and sends them again, so the merchant sees the id twice. */
  slowShare: number;
  slowMs: number;
  answeredLate: number;
  events: Map<string, ReceivedEvent>;
  deliveries: number;
  failedOnPurpose: number;
  unverified: number;
  close(): Promise<void>;
}

const header = (value: string | string[] | undefined) =>
  Array.isArray(value) ? (value[0] ?? '') : (value ?? '');

export async function startReceiver(secret: string): Promise<Receiver> {
  const receiver: Receiver = {
    url: '',
    failShare: 0,
    slowShare: 0,
    slowMs: 0,
    answeredLate: 0,
    events: new Map(),
    deliveries: 0,
    failedOnPurpose: 0,
    unverified: 0,
    close: async () => {},
  };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      receiver.deliveries += 1;
      const body = Buffer.concat(chunks).toString('utf8');
      const id = header(request.headers['webhook-id']);
      const verified = verifyWebhook(
        secret,
        {
          id,
          timestamp: header(request.headers['webhook-timestamp']),
          signature: header(request.headers['webhook-signature']),
        },
        body,
        Math.floor(Date.now() / 1000),
      );
      if (!verified) {
        receiver.unverified += 1;
        response.writeHead(400).end('bad signature');
        return;
      }
      const draw = Math.random();
      if (draw < receiver.slowShare) {
        receiver.answeredLate += 1;
        await new Promise((resolve) => setTimeout(resolve, receiver.slowMs));
      }
      if (draw >= receiver.slowShare && draw < receiver.slowShare + receiver.failShare) {
        receiver.failedOnPurpose += 1;
        response.writeHead(500).end('handler failed');
        return;
      }
      const event = JSON.parse(body) as {
        type: string;
        data?: { order?: { out_trade_no?: string }; refund?: { out_refund_no?: string } };
      };
      const known = receiver.events.get(id);
      if (known) known.accepted += 1;
      else
        receiver.events.set(id, {
          type: event.type,
          outTradeNo: event.data?.order?.out_trade_no ?? null,
          outRefundNo: event.data?.refund?.out_refund_no ?? null,
          accepted: 1,
        });
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  receiver.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/vk-pay/webhooks`;
  receiver.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return receiver;
}
