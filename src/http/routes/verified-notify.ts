/**
 * A gateway's notification about money going out (transfers, splits), at
 * POST /<path>/:provider/:merchant[/:account]: the raw bytes are kept for the provider to verify,
 * and the answer is the gateway's own format from the service.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { NotifyAck } from '../../providers/provider.ts';
import type { VerifiedNotifyRequest } from '../../service/verified-notify.ts';

export function verifiedNotifyRoutes(
  path: string,
  what: string,
  handle: (request: VerifiedNotifyRequest) => Promise<{ ack: NotifyAck; outcome: string }>,
): FastifyPluginAsync {
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_request, body, done) => {
      done(null, body);
    });
    app.post<{ Params: { provider: string; merchant: string; account?: string } }>(
      `${path}/:provider/:merchant/:account?`,
      { schema: { hide: true } },
      async (request, reply) => {
        const { ack, outcome } = await handle({
          provider: request.params.provider,
          merchantId: request.params.merchant,
          ...(request.params.account ? { account: request.params.account } : {}),
          headers: request.headers,
          rawBody: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
        });
        request.log.info(
          { provider: request.params.provider.slice(0, 32), outcome, status: ack.status },
          `${what} notification`,
        );
        reply.status(ack.status).headers(ack.headers);
        return reply.send(ack.body);
      },
    );
  };
}
