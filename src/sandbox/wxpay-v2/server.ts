/**
 * The APIv2 emulator as an HTTPS server: its certificate from its own test CA, which also issues
 * each merchant's client certificate; /secapi answers only a client certificate of that CA whose
 * CN is the request's mch_id. The control API (/sandbox) registers merchants, pays, settles refunds
 * and lists notifications.
 */
import type { TLSSocket } from 'node:tls';
import Fastify, { type FastifyInstance } from 'fastify';
import { V2CertificateAuthority } from './certificates.ts';
import { WxpayV2Gateway } from './gateway.ts';

export interface RunningWxpayV2Sandbox {
  /** https://127.0.0.1:PORT, no trailing slash. */
  url: string;
  /** The test CA's certificate: trust it for the server, it issued the merchants' client certificates. */
  caPem: string;
  gateway: WxpayV2Gateway;
  app: FastifyInstance;
  close(): Promise<void>;
}

function peerMchid(request: { raw: { socket: unknown } }): string | null {
  const socket = request.raw.socket as TLSSocket;
  if (!socket.authorized) return null;
  const subject = socket.getPeerCertificate()?.subject as { CN?: string | string[] } | undefined;
  return typeof subject?.CN === 'string' ? subject.CN : null;
}

export async function startWxpayV2Sandbox(
  options: { timeFactor?: number; host?: string; port?: number } = {},
): Promise<RunningWxpayV2Sandbox> {
  const host = options.host ?? '127.0.0.1';
  const authority = await V2CertificateAuthority.create();
  const serverCertificate = await authority.issue(
    'CN=api.mch.weixin.qq.com sandbox, O=VK-Pay Sandbox, C=CN',
    'server',
    [host, 'localhost'],
  );
  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    https: {
      key: serverCertificate.key,
      cert: serverCertificate.cert,
      ca: [authority.certificatePem],
      requestCert: true,
      // The plain /pay endpoints take callers without a certificate; /secapi checks it itself.
      rejectUnauthorized: false,
    },
  });
  let url = '';
  const gateway = new WxpayV2Gateway(authority, {
    timeFactor: options.timeFactor ?? 1,
    publicUrl: () => url,
  });
  app.addHook('preClose', async () => gateway.stop());
  app.addContentTypeParser(
    ['text/xml', 'application/xml', 'text/plain'],
    { parseAs: 'string' },
    (_r, body, done) => done(null, body),
  );

  for (const path of [
    '/pay/unifiedorder',
    '/pay/orderquery',
    '/pay/closeorder',
    '/secapi/pay/refund',
    '/pay/refundquery',
    '/pay/downloadbill',
    '/pay/micropay',
    '/secapi/pay/reverse',
  ]) {
    app.post(path, async (request, reply) => {
      const raw = typeof request.body === 'string' ? request.body : '';
      const answer = gateway.handle(path, raw, peerMchid(request));
      return reply.status(answer.status).header('content-type', 'text/xml; charset=utf-8').send(answer.body);
    });
  }

  const problem = (reply: { status(code: number): { send(body: unknown): unknown } }, error: unknown) =>
    reply.status(400).send({ message: error instanceof Error ? error.message : String(error) });
  app.post<{ Body: { mchid?: string; appid?: string; appids?: string[]; signType?: string } }>(
    '/sandbox/merchants',
    async (request, reply) => {
      try {
        return await gateway.addMerchant(request.body ?? {});
      } catch (error) {
        return problem(reply, error);
      }
    },
  );
  // A sandbox buyer's payment code for /pay/micropay: single use, short-lived.
  app.post<{ Body: { behaviour?: unknown; ttlSeconds?: unknown; openid?: unknown } | undefined }>(
    '/sandbox/payment-codes',
    async (request, reply) => {
      try {
        const body = request.body ?? {};
        const issued = gateway.paymentCodes.issue({
          behaviour: body.behaviour,
          ttlSeconds: body.ttlSeconds,
          buyer: typeof body.openid === 'string' ? { openid: body.openid } : {},
        });
        return { ...issued, expiresAt: new Date(issued.expiresAt).toISOString() };
      } catch (error) {
        return problem(reply, error);
      }
    },
  );
  app.post<{
    Params: { mchid: string; no: string };
    Body: { openid?: string; duplicates?: number } | undefined;
  }>('/sandbox/trades/:mchid/:no/pay', async (request, reply) => {
    try {
      const trade = gateway.pay(request.params.mchid, request.params.no, request.body ?? {});
      return { state: trade.state, transactionId: trade.transactionId };
    } catch (error) {
      return problem(reply, error);
    }
  });
  app.post<{ Params: { mchid: string; no: string } }>(
    '/sandbox/trades/:mchid/:no/fail',
    async (request, reply) => {
      try {
        return { state: gateway.pay(request.params.mchid, request.params.no, { fail: true }).state };
      } catch (error) {
        return problem(reply, error);
      }
    },
  );
  app.get<{ Params: { mchid: string; no: string } }>('/sandbox/trades/:mchid/:no', async (request, reply) => {
    const trade = gateway.trades.get(`${request.params.mchid}/${request.params.no}`);
    return trade ?? reply.status(404).send({ message: 'no such trade' });
  });
  app.post<{
    Params: { mchid: string; no: string };
    Body: { status?: 'SUCCESS' | 'CHANGE' | 'REFUNDCLOSE' } | undefined;
  }>('/sandbox/refunds/:mchid/:no/settle', async (request, reply) => {
    try {
      return gateway.settleRefund(request.params.mchid, request.params.no, request.body?.status ?? 'SUCCESS');
    } catch (error) {
      return problem(reply, error);
    }
  });
  app.post<{ Body: { offsetMs?: number } | undefined }>('/sandbox/clock', async (request) => {
    gateway.clockOffsetMs = Number(request.body?.offsetMs ?? 0) || 0;
    return { offsetMs: gateway.clockOffsetMs, now: new Date(gateway.now()).toISOString() };
  });
  app.get<{ Querystring: { mchid?: string; out_trade_no?: string } }>(
    '/sandbox/notifications',
    async (request) =>
      gateway.notifications.filter(
        (n) =>
          (!request.query.mchid || n.mchid === request.query.mchid) &&
          (!request.query.out_trade_no || n.outTradeNo === request.query.out_trade_no),
      ),
  );

  await app.listen({ host, port: options.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  url = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { url, caPem: authority.certificatePem, gateway, app, close: () => app.close() };
}
