/**
 * CORS for the cashier's buyer endpoints: a merchant's own pages (the client SDK) may call
 * `/checkout/:token/status` and `/checkout/:token/pay` from the origins its API apps list in
 * `corsOrigins`, and from no other. The page and its assets stay same-origin only.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { VkPay } from '../../vk-pay.ts';
import { checkoutMerchants } from '../checkout-merchants.ts';

const ACTIONS = new Set(['status', 'pay']);
/** What the SDK sends; accept and accept-language are safelisted, content-type JSON is not. */
const ALLOWED_HEADERS = 'content-type, accept, accept-language';

/**
 * The merchant a token names, read without checking its signature: it only chooses which origins
 * may read the answer, and the route itself refuses a forged token (40002) whatever the origin.
 */
function merchantNamedBy(token: string): string | null {
  const claims = token.split('.')[1];
  if (!claims) return null;
  try {
    const m = (JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as { m?: unknown }).m;
    return typeof m === 'string' ? m : null;
  } catch {
    return null;
  }
}

/** The origin allowed to read this answer, or null: a listed origin asking for status or pay. */
function allowedOrigin(vkPay: VkPay, request: FastifyRequest): string | null {
  const origin = request.headers.origin;
  if (typeof origin !== 'string') return null;
  const path = request.url.split('?')[0]!;
  const [, , rawToken, action, ...rest] = path.split('/');
  if (!rawToken || !action || rest.length > 0 || !ACTIONS.has(action)) return null;
  let token: string;
  try {
    token = decodeURIComponent(rawToken);
  } catch {
    return null;
  }
  const merchantId = merchantNamedBy(token);
  return merchantId !== null && checkoutMerchants(vkPay).originsOf(merchantId).has(origin) ? origin : null;
}

export function installCheckoutCors(app: FastifyInstance, vkPay: VkPay): void {
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    if (request.url.startsWith('/checkout/') && request.headers.origin !== undefined) {
      // Answers differ by Origin, so a shared cache must not hand one origin's answer to another.
      reply.header('vary', 'Origin');
      const origin = allowedOrigin(vkPay, request);
      if (origin) reply.header('access-control-allow-origin', origin);
    }
    done();
  });

  // The preflight of POST /pay (its JSON body is not a simple request). An unlisted origin gets no
  // CORS headers, so the browser refuses the call it asked about.
  app.options('/checkout/*', { schema: { hide: true } }, async (request, reply) => {
    if (reply.hasHeader('access-control-allow-origin')) {
      reply.headers({
        'access-control-allow-methods': 'GET, POST',
        'access-control-allow-headers': ALLOWED_HEADERS,
        'access-control-max-age': '600',
      });
    }
    return reply.status(204).send();
  });
}
