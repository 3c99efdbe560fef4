/**
 * The cashier (收银台): the merchant API issues a checkout token (POST /api/checkouts, signed like
 * every merchant call), and the buyer's browser uses it at /checkout/:token: the page, the payment
 * for the provider the buyer picks (/pay) and the order's status (/status). The token allows
 * nothing else. Tokens are longer than a route parameter may be, so the routes match a wildcard.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import type { SecurityConfig } from '../../config/security.ts';
import { type Lang, PayError, toPayError } from '../../core/errors.ts';
import {
  CHECKOUT_PROVIDERS as PROVIDERS,
  type CheckoutProviderName as ProviderName,
  paymentProblems,
} from '../../core/validate.ts';
import { recordCheckout } from '../../service/checkouts.ts';
import type { VkPay } from '../../vk-pay.ts';
import {
  assetFor,
  cashierIcon,
  cashierScript,
  cashierStyle,
  compressPage,
  isAssetUrl,
  ROOT_ICON_CACHE,
  sendAsset,
} from '../checkout-assets.ts';
import { deviceOf, offersFor } from '../checkout-offers.ts';
import { type CashierState, cashierBusyPage, cashierErrorPage, cashierPage } from '../checkout-page.ts';
import { type CheckoutStatus, checkoutStatus } from '../checkout-status.ts';
import { type CheckoutClaims, checkoutRuntime, MAX_CHECKOUT_TTL_SECONDS } from '../checkout-token.ts';
import { languageOf, ok } from '../envelope.ts';
import { countRequest, rateLimitHeaders, tooManyRequests } from '../plugins/rate-limit.ts';
import { NOT_AN_OBJECT, refuseProblems } from '../request-problems.ts';
import { FIELD } from './fields.ts';

export interface CheckoutRoutesOptions {
  vkPay: VkPay;
  security: SecurityConfig;
  now?: () => number;
}

const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data:",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

const createCheckoutBody = {
  type: 'object',
  additionalProperties: false,
  required: ['out_trade_no', 'total_fee', 'subject', 'type'],
  properties: {
    out_trade_no: FIELD.outTradeNo,
    total_fee: FIELD.fen,
    subject: FIELD.subject,
    type: FIELD.orderType,
    providers: {
      type: 'array',
      items: { type: 'string', enum: [...PROVIDERS] },
      minItems: 1,
      uniqueItems: true,
      description: 'the providers the buyer may choose from; default all',
    },
    user_id: FIELD.id,
    openid: { ...FIELD.id, description: "the payer's openid, for JSAPI in the WeChat browser" },
    custom: FIELD.custom,
    return_url: { ...FIELD.returnUrl, description: "the merchant's page after the result" },
    // The cashier link's life (the order then closes with it), not a gateway's field: a short one is
    // how an offer that ends soon is made.
    time_expire: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_CHECKOUT_TTL_SECONDS,
      description: `seconds the checkout may be paid: 1 to ${MAX_CHECKOUT_TTL_SECONDS}`,
    },
    alipay_in_wechat: { type: 'boolean', description: 'offer Alipay inside the WeChat browser too' },
  },
} as const;

/** What the cashier's page sends to /checkout/:token/pay: the provider the buyer chose, nothing else. */
const payBody = {
  type: 'object',
  additionalProperties: false,
  required: ['provider'],
  properties: { provider: { type: 'string', enum: [...PROVIDERS] } },
} as const;

interface CreateCheckoutBody {
  out_trade_no: string;
  total_fee: number;
  subject: string;
  type: string;
  providers?: ProviderName[];
  user_id?: string;
  openid?: string;
  custom?: Record<string, unknown>;
  return_url?: string;
  time_expire?: number;
  alipay_in_wechat?: boolean;
}

function checkoutUrl(vkPay: VkPay, token: string): string {
  return `${vkPay.context.publicUrl.replace(/\/+$/, '')}/checkout/${token}`;
}

/** POST /api/checkouts, registered inside the merchant API so its signature and limits apply. */
export const checkoutApiRoutes: FastifyPluginAsync<{ vkPay: VkPay; now?: () => number }> = async (
  app,
  options,
) => {
  const { vkPay } = options;
  const now = options.now ?? Date.now;
  app.post<{ Body: CreateCheckoutBody }>(
    '/api/checkouts',
    {
      schema: { body: createCheckoutBody, tags: ['payments'], summary: 'createCheckout' },
      // The schema's findings are listed with the domain's below, so every problem comes back at once.
      attachValidation: true,
    },
    async (request) => {
      const body = request.body;
      const input = body !== null && typeof body === 'object' && !Array.isArray(body) ? body : undefined;
      const merchantId = request.merchantId ?? request.apiApp!.merchantId;
      const providers = Array.isArray(input?.providers) ? input.providers : [...PROVIDERS];
      // Every order problem is reported now, not when the buyer picks a provider.
      refuseProblems(
        request,
        !input
          ? [NOT_AN_OBJECT]
          : paymentProblems(
              {
                ...input,
                provider: PROVIDERS.find((name) => providers.includes(name)) ?? PROVIDERS[0],
                scene: 'native',
              },
              { ...vkPay.context.rules, orderTypes: vkPay.context.handlers.orderTypes() },
            ),
      );
      const runtime = checkoutRuntime(vkPay);
      const issuedAt = Math.floor(now() / 1000);
      const claims: CheckoutClaims = {
        m: merchantId,
        o: body.out_trade_no,
        f: body.total_fee,
        s: body.subject,
        t: body.type,
        p: providers,
        e: issuedAt + (body.time_expire ?? runtime.ttlSeconds),
        i: issuedAt,
        ...(body.user_id ? { u: body.user_id } : {}),
        ...(body.openid ? { w: body.openid } : {}),
        ...(body.custom && Object.keys(body.custom).length > 0 ? { c: body.custom } : {}),
        ...(body.return_url ? { r: body.return_url } : {}),
        ...(body.alipay_in_wechat ? { a: 1 as const } : {}),
      };
      const token = runtime.signer.sign(claims);
      // Recorded so the merchant can cancel it before the buyer chooses (a cancelled number is refused).
      await recordCheckout(vkPay.context, merchantId, claims.o, new Date(claims.e * 1000));
      return ok({
        checkout: {
          token,
          url: checkoutUrl(vkPay, token),
          expires_at: new Date(claims.e * 1000).toISOString(),
        },
      });
    },
  );
};

/** The buyer's side: /checkout/:token, /checkout/:token/pay, /checkout/:token/status and the assets. */
export const checkoutRoutes: FastifyPluginAsync<CheckoutRoutesOptions> = async (app, options) => {
  const { vkPay, security } = options;
  const now = options.now ?? Date.now;
  const signer = () => checkoutRuntime(vkPay).signer;

  const langOf = (request: FastifyRequest): Lang => {
    const asked = (request.query as { lang?: string } | undefined)?.lang;
    return asked === 'en' || asked === 'zh' ? asked : languageOf(request);
  };
  const userAgentOf = (request: FastifyRequest) => request.headers['user-agent'];
  const split = (request: FastifyRequest): { token: string; action: string } => {
    const rest = (request.params as { '*': string })['*'];
    const slash = rest.indexOf('/');
    return slash < 0
      ? { token: rest, action: '' }
      : { token: rest.slice(0, slash), action: rest.slice(slash + 1) };
  };

  // The seed's per-client limit. The assets are not counted: they are static, cached by the
  // browser, and a page load would otherwise cost four requests.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    if (!security.rateLimitsEnabled || isAssetUrl(request.url)) return;
    const state = await countRequest(vkPay.cache, `checkout:${request.ip}`, security.ipRateLimit, now());
    reply.headers(rateLimitHeaders(state));
    if (!state.exceeded) return;
    // A buyer's browser asked for the page: answer with a page, not JSON.
    if (request.method === 'GET' && split(request).action === '') {
      const style = await cashierStyle();
      return reply
        .status(429)
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .type('text/html; charset=utf-8')
        .send(
          cashierBusyPage({
            lang: langOf(request),
            retryAfterSeconds: state.resetSeconds,
            style: style.hash,
            url: request.url,
          }),
        );
    }
    throw tooManyRequests(state);
  });

  // The buyer's pages (HTML, rendered per request) go out compressed; the JSON answers do not.
  app.addHook('onSend', async (request, reply, payload) => {
    const html = String(reply.getHeader('content-type') ?? '').startsWith('text/html');
    return html && (typeof payload === 'string' || Buffer.isBuffer(payload))
      ? compressPage(request, reply, payload)
      : payload;
  });

  // cashier.<hash>.js, cashier.<hash>.css, favicon.<hash>.svg, and the names without a hash. Files
  // for the browser, not API operations, so they stay out of the API docs.
  app.get<{ Params: { file: string } }>(
    '/checkout/assets/:file',
    { schema: { hide: true } },
    async (request, reply) => {
      const found = await assetFor(request.params.file);
      if (!found) throw new PayError(40005, { message: `no cashier asset ${request.params.file}` });
      return sendAsset(request, reply, found.asset, found.cacheControl);
    },
  );
  // Browsers ask the site's root for an icon: the cashier's, so no page logs a 404 for it.
  app.get('/favicon.ico', { schema: { hide: true } }, async (request, reply) =>
    sendAsset(request, reply, await cashierIcon(), ROOT_ICON_CACHE),
  );

  app.get('/checkout/*', async (request, reply) => {
    const { token, action } = split(request);
    const lang = langOf(request);
    if (action === 'status') {
      const claims = signer().verify(token, now(), 'read');
      return ok(await checkoutStatus(vkPay, claims, now(), lang));
    }
    if (action !== '') {
      // A buyer's browser followed a wrong link: a page, with the way back to the checkout.
      const style = await cashierStyle();
      return reply
        .status(404)
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .type('text/html; charset=utf-8')
        .send(
          cashierErrorPage({
            lang,
            situation: 'notFound',
            code: 40005,
            style: style.hash,
            link: {
              href: `/checkout/${encodeURIComponent(token)}${lang === 'en' ? '?lang=en' : ''}`,
              label: 'cashier',
            },
          }),
        );
    }
    return renderPage(request, reply, token, lang);
  });

  app.post<{ Body: { provider?: string } | undefined }>(
    '/checkout/*',
    {
      schema: { body: payBody },
      // An action that does not exist is told before its body is looked at.
      preValidation: async (request) => {
        const { action } = split(request);
        if (action !== 'pay') throw new PayError(40005, { message: `no checkout action ${action}` });
      },
    },
    async (request) => {
      const { token } = split(request);
      const claims = signer().verify(token, now(), 'pay');
      const provider = request.body?.provider;
      const offer = offersFor(claims, userAgentOf(request), vkPay.context.providers).find(
        (candidate) => candidate.provider === provider,
      );
      if (!offer) {
        throw new PayError(40001, {
          field: 'provider',
          message: `${String(provider)} is not offered for this checkout on this device`,
        });
      }
      const cashierUrl = checkoutUrl(vkPay, token);
      const { client } = await vkPay.pay({
        merchantId: claims.m,
        provider: offer.provider,
        out_trade_no: claims.o,
        total_fee: claims.f,
        subject: claims.s,
        type: claims.t,
        scene: offer.scene,
        openid: claims.w,
        user_id: claims.u,
        custom: claims.c,
        clientIp: request.ip,
        userAgent: userAgentOf(request) ?? null,
        returnUrl: cashierUrl,
        expireAt: new Date(claims.e * 1000),
        checkout: true,
        // The buyer may change their mind: the first method's attempt is closed at its gateway.
        switchProvider: true,
        // Alipay's WAP cashier sends a buyer who gives up back here, where they can pay again.
        ...(offer.provider === 'alipay' && offer.scene === 'h5' ? { other: { quit_url: cashierUrl } } : {}),
      });
      const qrImage =
        'codeUrl' in client
          ? `data:image/svg+xml;base64,${Buffer.from(await QRCode.toString(client.codeUrl, { type: 'svg', margin: 1 })).toString('base64')}`
          : undefined;
      return ok({
        provider: offer.provider,
        scene: offer.scene,
        payment: client,
        ...(qrImage ? { qrImage } : {}),
        returnUrl: cashierUrl,
      });
    },
  );

  async function renderPage(request: FastifyRequest, reply: FastifyReply, token: string, lang: Lang) {
    const [script, style, icon] = await Promise.all([cashierScript(), cashierStyle(), cashierIcon()]);
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY).type('text/html; charset=utf-8');
    let claims: CheckoutClaims;
    try {
      claims = signer().verify(token, now(), 'read');
    } catch (error) {
      const payError = toPayError(error);
      const situation =
        payError.code === 40002 ? 'invalidLink' : payError.code === 40009 ? 'expiredLink' : 'unavailable';
      // An expired link was still signed here: it knows the shop to go back to, if the merchant said.
      const shop = payError.code === 40009 ? signer().signedClaims(token)?.r : undefined;
      return reply.status(payError.httpStatus).send(
        cashierErrorPage({
          lang,
          situation,
          code: payError.code,
          style: style.hash,
          ...(shop ? { link: { href: shop, label: 'back' as const } } : {}),
        }),
      );
    }
    let status: CheckoutStatus;
    try {
      status = await checkoutStatus(vkPay, claims, now(), lang);
    } catch (error) {
      // The store or the gateway is down: a page that says so and retries, not a JSON body.
      const payError = toPayError(error);
      const level = payError.code === 50000 ? 'error' : 'warn';
      request.log[level]({ code: payError.code, reason: payError.message }, 'cashier page unavailable');
      return reply
        .status(503)
        .header('retry-after', '10')
        .send(
          cashierErrorPage({
            lang,
            situation: 'unavailable',
            code: payError.code,
            style: style.hash,
            link: { href: request.url, label: 'again' },
            refreshSeconds: 10,
          }),
        );
    }
    const state: CashierState = {
      token,
      lang,
      subject: claims.s,
      totalFen: claims.f,
      expiresAt: claims.e * 1000,
      now: now(),
      offers: offersFor(claims, userAgentOf(request), vkPay.context.providers),
      device: deviceOf(userAgentOf(request)),
      status,
      returnUrl: claims.r ?? null,
      cashierUrl: checkoutUrl(vkPay, token),
    };
    // The payee's logo (apps[].payee.logoUrl) is the one image the page loads from another origin.
    const logoUrl = status.payee?.logoUrl;
    if (logoUrl) {
      const images = `img-src 'self' data: ${new URL(logoUrl).origin}`;
      reply.header(
        'content-security-policy',
        CONTENT_SECURITY_POLICY.replace("img-src 'self' data:", images),
      );
    }
    return reply.send(cashierPage(state, { script: script.hash, style: style.hash, icon: icon.hash }));
  }
};
