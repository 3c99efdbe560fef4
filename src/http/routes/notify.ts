/**
 * Gateway callbacks: POST /notify/:provider/:merchant[/:account]. The body is kept as the exact bytes received,
 * because the signature covers those bytes and not any re-serialisation of them.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Provider } from '../../providers/provider.ts';
import type { VkPay } from '../../vk-pay.ts';
import type { ServiceMetrics } from '../metrics.ts';

export interface NotifyRoutesOptions {
  vkPay: VkPay;
  metrics?: ServiceMetrics;
}

export const notifyRoutes: FastifyPluginAsync<NotifyRoutesOptions> = async (app, { vkPay, metrics }) => {
  // Encapsulated: only this plugin's routes see bodies as raw buffers.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_request, body, done) => {
    done(null, body);
  });

  // The short URL is the merchant's `default` account; another account's callbacks carry its id.
  app.post<{ Params: { provider: string; merchant: string; account?: string } }>(
    '/notify/:provider/:merchant/:account?',
    { schema: { hide: true } },
    async (request, reply) => {
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const { ack, outcome, error, rejected } = await vkPay.handleNotify({
        provider: request.params.provider,
        merchantId: request.params.merchant,
        ...(request.params.account ? { account: request.params.account } : {}),
        headers: request.headers,
        rawBody,
        ip: request.ip,
        query: queryOf(request.query),
      });
      // Labels only from what is configured: a forger's made-up names must not grow the metrics.
      const provider = vkPay.context.providers.has(request.params.provider)
        ? request.params.provider
        : 'unknown';
      metrics?.callbacks.inc({ provider, outcome });
      if (rejected) metrics?.callbacksRejected.inc({ provider, reason: rejected });
      request.log.info(
        { provider: request.params.provider.slice(0, 32), outcome, status: ack.status, code: error?.code },
        'gateway notification',
      );
      reply.status(ack.status).headers(ack.headers);
      return reply.send(ack.body);
    },
  );

  // WeChat checks a mini program's message push URL with a signed GET before it sends there.
  app.get<{ Params: { provider: string; merchant: string; account?: string } }>(
    '/notify/:provider/:merchant/:account?',
    { schema: { hide: true } },
    async (request, reply) => {
      const provider = vkPay.context.providers.get(request.params.provider) as
        | (Provider & { answerUrlCheck?: UrlCheck })
        | undefined;
      let echo: string | null = null;
      try {
        echo =
          provider?.answerUrlCheck?.(
            request.params.merchant,
            queryOf(request.query),
            request.params.account,
          ) ?? null;
      } catch {
        echo = null;
      }
      if (echo === null) return reply.status(404).send('');
      return reply.type('text/plain').send(echo);
    },
  );
};

type UrlCheck = (
  merchantId: string,
  query: Record<string, string | undefined>,
  account?: string,
) => string | null;

/** The URL's query parameters, the first value of each. */
function queryOf(query: unknown): Record<string, string | undefined> {
  const result: Record<string, string | undefined> = {};
  if (query === null || typeof query !== 'object') return result;
  for (const [key, value] of Object.entries(query as Record<string, unknown>)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string') result[key] = first;
  }
  return result;
}
