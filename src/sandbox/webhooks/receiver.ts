/**
 * A merchant backend for development: receives VK-Pay's webhooks, checks each with the independent
 * `standardwebhooks` package (never with the service's own signing code), and shows what arrived
 * on a page and as JSON. It can be told to fail the next deliveries, to watch the retries.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Webhook } from 'standardwebhooks';

export interface ReceivedEvent {
  /** The webhook-id header: the event's id, the same on every retry. */
  id: string;
  type: string | null;
  outTradeNo: string | null;
  verified: boolean;
  /** Why it did not verify. */
  problem: string | null;
  answered: number;
  receivedAt: string;
  body: unknown;
}

export interface WebhookReceiverOptions {
  /** The endpoint's signing secrets (whsec_...): the current one, and the previous during a rotation. */
  secrets: () => string[];
  /** How many deliveries to keep, newest first. */
  keep?: number;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const header = (value: string | string[] | undefined) =>
  Array.isArray(value) ? (value[0] ?? '') : (value ?? '');

function verify(secrets: string[], body: string, headers: Record<string, string>): string | null {
  if (secrets.length === 0) return 'no secret is configured for this receiver';
  let problem = 'no signature matches';
  for (const secret of secrets) {
    try {
      new Webhook(secret).verify(body, headers);
      return null;
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
  }
  return problem;
}

export function webhookReceiverPlugin(options: WebhookReceiverOptions): FastifyPluginAsync {
  const keep = options.keep ?? 200;
  const received: ReceivedEvent[] = [];
  let failNext: { times: number; status: number } = { times: 0, status: 500 };

  return async (app) => {
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) =>
      done(null, String(body)),
    );

    app.post('/receive', async (request, reply) => {
      const body = typeof request.body === 'string' ? request.body : '';
      const headers = {
        'webhook-id': header(request.headers['webhook-id']),
        'webhook-timestamp': header(request.headers['webhook-timestamp']),
        'webhook-signature': header(request.headers['webhook-signature']),
      };
      const problem = verify(options.secrets(), body, headers);
      let json: { type?: unknown; data?: { order?: { out_trade_no?: unknown } } } | null = null;
      try {
        json = JSON.parse(body);
      } catch {
        // Shown as it came.
      }
      const answered = problem ? 400 : failNext.times > 0 ? failNext.status : 200;
      if (!problem && failNext.times > 0) failNext = { ...failNext, times: failNext.times - 1 };
      received.unshift({
        id: headers['webhook-id'],
        type: typeof json?.type === 'string' ? json.type : null,
        outTradeNo: typeof json?.data?.order?.out_trade_no === 'string' ? json.data.order.out_trade_no : null,
        verified: problem === null,
        problem,
        answered,
        receivedAt: new Date().toISOString(),
        body: json ?? body,
      });
      received.length = Math.min(received.length, keep);
      reply.code(answered).type('application/json');
      return { received: answered < 300, ...(problem ? { problem } : {}) };
    });

    app.get('/events', async () => ({ events: received }));

    app.delete('/events', async () => {
      received.length = 0;
      return { events: [] };
    });

    app.post<{ Body: string }>('/fail', async (request, reply) => {
      let asked: { times?: unknown; status?: unknown } = {};
      try {
        asked = JSON.parse(request.body || '{}');
      } catch {
        // Checked below.
      }
      const times = Number(asked.times ?? 1);
      const status = Number(asked.status ?? 500);
      if (
        !Number.isInteger(times) ||
        times < 0 ||
        times > 100 ||
        !Number.isInteger(status) ||
        status < 300 ||
        status > 599
      ) {
        reply.code(400);
        return { error: 'times must be 0 to 100 and status 300 to 599' };
      }
      failNext = { times, status };
      return { failNext };
    });

    app.get('/', async (_request, reply) => {
      const rows = received
        .map(
          (event) =>
            `<tr><td>${escapeHtml(event.receivedAt)}</td><td>${escapeHtml(event.type ?? '?')}</td>` +
            `<td>${escapeHtml(event.outTradeNo ?? '')}</td><td><code>${escapeHtml(event.id)}</code></td>` +
            `<td data-testid="verified">${event.verified ? '✓ verified' : `✗ ${escapeHtml(event.problem ?? '')}`}</td>` +
            `<td>${event.answered}</td></tr>`,
        )
        .join('');
      reply.type('text/html; charset=utf-8');
      return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">
<title>VK-Pay webhook receiver</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>
</head><body><h1>Webhooks received (development receiver)</h1>
<p>Each delivery is checked with the Standard Webhooks library. JSON: <a href="events">events</a>.
Fail the next deliveries: <code>curl -X POST -H 'content-type: application/json' -d '{"times":3}' …/fail</code></p>
<table><thead><tr><th>received</th><th>type</th><th>out_trade_no</th><th>webhook-id</th><th>signature</th><th>answered</th></tr></thead>
<tbody>${rows || '<tr><td colspan="6">nothing yet: take a payment</td></tr>'}</tbody></table></body></html>`;
    });
  };
}
