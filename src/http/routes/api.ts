/**
 * The merchant API: createPayment, queryPayment, closeOrder, refund, queryRefund. Every request is
 * rate limited, checked against the app's IP allowlist and signature, then validated; field names
 * are the original plugin's.
 */
import type {} from '@fastify/swagger';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ApiApp, SecurityConfig } from '../../config/security.ts';
import { PayError } from '../../core/errors.ts';
import { detectScene } from '../../core/scene.ts';
import {
  PROVIDERS,
  type ProviderName,
  paymentProblems,
  refundProblems,
  SCENES,
  type Scene,
} from '../../core/validate.ts';
import { cancelUnchosenCheckout } from '../../service/checkouts.ts';
import type { Order } from '../../service/model.ts';
import { refundView, reviewView, orderView as storedOrderView } from '../../service/views.ts';
import type { VkPay } from '../../vk-pay.ts';
import { ok } from '../envelope.ts';
import { type Allowlist, createAllowlist } from '../plugins/allowlist.ts';
import { routeClassOf, takeRateLimit } from '../plugins/rate-limit.ts';
import { verifySignedRequest } from '../plugins/signature.ts';
import { NOT_AN_OBJECT, refuseProblems } from '../request-problems.ts';
import { checkoutApiRoutes } from './checkout.ts';
import { FIELD } from './fields.ts';
import { routeApiRoutes } from './gray-release.ts';
import { profitSharingApiRoutes } from './profit-sharing.ts';
import { transferApiRoutes } from './transfers.ts';
import { webhookApiRoutes } from './webhooks.ts';

export interface ApiRoutesOptions {
  vkPay: VkPay;
  apps: ApiApp[];
  security: SecurityConfig;
  now?: () => number;
}

declare module 'fastify' {
  interface FastifyRequest {
    apiApp?: ApiApp;
    /** The merchant this request acts for: the app's own, or one it may choose with ?merchant=. */
    merchantId?: string;
    rawBody?: string;
  }
}

/** Extra gateway fields: any, within 4096 bytes; the browser URL among them is held to return_url's rules. */
const MAX_OTHER_BYTES = 4096;

const createPaymentBody = {
  type: 'object',
  additionalProperties: false,
  required: ['provider', 'out_trade_no', 'total_fee', 'subject', 'type'],
  properties: {
    provider: { type: 'string', enum: [...PROVIDERS] },
    out_trade_no: FIELD.outTradeNo,
    total_fee: FIELD.fen,
    subject: FIELD.subject,
    type: FIELD.orderType,
    scene: { type: 'string', enum: [...SCENES], description: 'wins over the detected scene' },
    openid: FIELD.id,
    session_key: {
      type: 'string',
      pattern: '^[A-Za-z0-9+/]{22}==$',
      description:
        "wxpay-virtual: the buyer's session_key (code2Session) for the user-state signature; used once, never stored",
    },
    user_id: FIELD.id,
    auth_code: {
      type: 'string',
      pattern: '^[0-9]{10,32}$',
      description:
        "micropay only: the buyer's payment code as the counter's scanner reads it (WeChat: 18 digits starting 10-15; Alipay: 16-24 digits starting 25-30). Sent to the gateway once, never stored, logged or answered back",
    },
    custom: FIELD.custom,
    other: {
      type: 'object',
      description: `extra gateway fields, passed through unchanged (at most ${MAX_OTHER_BYTES} bytes of JSON)`,
      properties: { quit_url: { ...FIELD.returnUrl, maxLength: 400 } },
    },
    return_url: FIELD.returnUrl,
    time_expire: FIELD.timeExpire,
    isPC: { type: 'boolean' },
    needQRcode: { type: 'boolean' },
    profit_sharing: {
      type: 'boolean',
      description:
        'keep the funds frozen for profit sharing (分账) after payment; only on a gateway that splits (else 40009). Implied by a split rule for the order type',
    },
    context: {
      type: 'object',
      additionalProperties: false,
      properties: {
        platform: { type: 'string', maxLength: 32 },
        userAgent: { type: 'string', maxLength: 512 },
        os: { type: 'string', maxLength: 32 },
        clientIp: { type: 'string', maxLength: 45, pattern: '^[0-9A-Fa-f:.]+$' },
      },
    },
  },
} as const;

const refundBody = {
  type: 'object',
  additionalProperties: false,
  required: ['out_trade_no', 'out_refund_no', 'refund_fee'],
  properties: {
    out_trade_no: FIELD.outTradeNo,
    out_refund_no: FIELD.outRefundNo,
    refund_fee: FIELD.fen,
    reason: { type: 'string', maxLength: 80 },
  },
} as const;

const merchantQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { merchant: FIELD.merchant },
} as const;

const queryString = {
  type: 'object',
  additionalProperties: false,
  properties: {
    await_notify: { type: 'string', enum: ['true', 'false', '1', '0'] },
    await_max_time: { type: 'string', pattern: '^[0-9]{1,2}$', description: 'seconds, 5 to 40' },
    merchant: FIELD.merchant,
  },
} as const;

const orderParams = {
  type: 'object',
  required: ['outTradeNo'],
  properties: { outTradeNo: FIELD.outTradeNo },
} as const;
const refundParams = {
  type: 'object',
  required: ['outRefundNo'],
  properties: { outRefundNo: FIELD.outRefundNo },
} as const;

/** Why `other` cannot go to a gateway, or nothing. */
function otherProblems(other: unknown): { field: string; message: string }[] {
  if (other === null || typeof other !== 'object') return [];
  const size = Buffer.byteLength(JSON.stringify(other));
  return size > MAX_OTHER_BYTES
    ? [{ field: 'other', message: `other must be JSON of at most ${MAX_OTHER_BYTES} bytes` }]
    : [];
}

const text = { type: 'string' } as const;
const maybeText = { type: ['string', 'null'] } as const;
const fen = { type: 'integer' } as const;

/** The order as answered (views.ts); a response schema lets Fastify serialise it without JSON.stringify. */
const orderViewSchema = {
  type: 'object',
  properties: {
    out_trade_no: text,
    transaction_id: maybeText,
    provider: text,
    scene: text,
    type: text,
    subject: text,
    total_fee: fen,
    refunded_fee: fen,
    profit_sharing: {
      type: 'boolean',
      description: 'present (true) for an order created for profit sharing',
    },
    status: text,
    user_id: maybeText,
    openid: maybeText,
    custom: { type: 'object', additionalProperties: true },
    user_order_success: { type: 'boolean' },
    pay_date: maybeText,
    close_date: maybeText,
    expire_date: maybeText,
    create_date: text,
    update_date: text,
    attempts: {
      type: 'array',
      items: {
        type: 'object',
        properties: { provider: text, scene: text, closed: text, switch_date: text },
      },
    },
  },
} as const;

const queryPaymentResponse = {
  200: {
    type: 'object',
    properties: {
      code: { type: 'integer' },
      msg: text,
      data: {
        type: 'object',
        properties: {
          orderPaid: { type: 'boolean' },
          user_order_success: { type: 'boolean' },
          order: orderViewSchema,
        },
      },
    },
  },
} as const;

interface CreatePaymentBody {
  provider: ProviderName;
  out_trade_no: string;
  total_fee: number;
  subject: string;
  type: string;
  scene?: Scene;
  openid?: string;
  session_key?: string;
  user_id?: string;
  /** The buyer's payment code (micropay): passed to the gateway call only. */
  auth_code?: string;
  custom?: Record<string, unknown>;
  other?: Record<string, unknown>;
  return_url?: string;
  time_expire?: number;
  isPC?: boolean;
  needQRcode?: boolean;
  profit_sharing?: boolean;
  context?: { platform?: string; userAgent?: string; clientIp?: string; os?: string };
}

export const apiRoutes: FastifyPluginAsync<ApiRoutesOptions> = async (app, options) => {
  const { vkPay, security } = options;
  // The merchant reads its sealed fields of custom (user_info) open; they stay sealed at rest.
  const orderView = (order: Order) =>
    storedOrderView({ ...order, custom: vkPay.context.sealer?.unseal(order.custom) ?? order.custom });
  const now = options.now ?? Date.now;
  const apps = new Map(options.apps.map((apiApp) => [apiApp.appId, apiApp]));
  const allowlists = new Map<string, Allowlist>();
  for (const apiApp of options.apps) {
    if (apiApp.ipAllowlist && apiApp.ipAllowlist.length > 0)
      allowlists.set(apiApp.appId, createAllowlist(apiApp.ipAllowlist));
  }

  // JSON only (anything else is 415), kept as the exact body text: the signature covers it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = String(body);
    (request as FastifyRequest).rawBody = text;
    if (text.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new PayError(40001, { field: '(body)', message: 'body is not valid JSON' }), undefined);
    }
  });

  /** The app a request comes from: on its allowlist and correctly signed (or, unsigned, named). */
  const authenticate = async (request: FastifyRequest): Promise<ApiApp> => {
    const claimed = request.headers['x-vkpay-appid'];
    const appId = Array.isArray(claimed) ? claimed[0] : claimed;
    const allowlist = appId ? allowlists.get(appId) : undefined;
    if (allowlist && !allowlist.allows(request.ip)) {
      throw new PayError(40009, { message: `IP ${request.ip} is not on the allowlist of app ${appId}` });
    }
    let apiApp: ApiApp | undefined;
    if (security.requireSignature) {
      const verified = await verifySignedRequest(
        {
          method: request.method,
          pathWithQuery: request.url,
          headers: request.headers,
          body: request.rawBody ?? '',
        },
        {
          secretOf: (id) => apps.get(id)?.secret,
          cache: vkPay.cache,
          nowMs: now,
          maxAgeMs: security.signatureMaxAgeMs,
        },
      );
      apiApp = apps.get(verified);
    } else {
      apiApp = (appId ? apps.get(appId) : undefined) ?? options.apps[0];
    }
    if (!apiApp) throw new PayError(40009, { message: 'no API app is configured for this request' });
    return apiApp;
  };

  app.addHook('preValidation', async (request, reply) => {
    let apiApp: ApiApp;
    try {
      apiApp = await authenticate(request);
    } catch (error) {
      // A request no app vouches for spends its address's budget, as the public routes do: forged
      // traffic ends in 429, while a verified app never shares a budget with its neighbours.
      if (security.rateLimitsEnabled)
        await takeRateLimit(vkPay.cache, reply, `ip:${request.ip}`, security.ipRateLimit, now());
      throw error;
    }
    request.apiApp = apiApp;
    const requested = (request.query as { merchant?: unknown } | undefined)?.merchant;
    if (
      requested !== undefined &&
      requested !== apiApp.merchantId &&
      !apiApp.merchants?.includes(String(requested))
    ) {
      throw new PayError(40009, {
        field: 'merchant',
        message: `app ${apiApp.appId} may not act for merchant ${String(requested)}`,
      });
    }
    request.merchantId = requested === undefined ? apiApp.merchantId : String(requested);
    if (security.rateLimitsEnabled) {
      const routeClass = routeClassOf(request.method, request.routeOptions.url);
      const limit = apiApp.rateLimits?.[routeClass] ?? security.appRateLimits[routeClass];
      await takeRateLimit(vkPay.cache, reply, `app:${apiApp.appId}:${routeClass}`, limit, now());
    }
  });

  const merchantOf = (request: FastifyRequest) => request.merchantId!;
  /** Cancels the checkout if the buyer has not chosen a method, else closes the order (40005: neither). */
  const closeOrCancel = async (merchantId: string, outTradeNo: string) => {
    const cancelled = await cancelUnchosenCheckout(vkPay.context, merchantId, outTradeNo);
    const order = cancelled ? null : await vkPay.closePayment(merchantId, outTradeNo);
    return {
      checkout: {
        out_trade_no: outTradeNo,
        status: 'CLOSED',
        cancelled_at: cancelled ? cancelled.cancelledAt.toISOString() : null,
      },
      order: order ? orderView(order) : null,
    };
  };
  await app.register(checkoutApiRoutes, { vkPay, ...(options.now ? { now: options.now } : {}) });
  await app.register(webhookApiRoutes, { vkPay });
  await app.register(routeApiRoutes, { vkPay });
  await app.register(transferApiRoutes, { vkPay });
  await app.register(profitSharingApiRoutes, { vkPay });

  app.post<{ Body: CreatePaymentBody }>(
    '/api/payments',
    {
      schema: {
        body: createPaymentBody,
        tags: ['payments'],
        summary: 'createPayment',
        description:
          "Scene micropay (the counter scans the buyer's payment code, auth_code): the answer's data.micropay is the outcome, { state: 'paid' | 'confirming', confirmBy, message }. confirming: the buyer is confirming (a password) and the order is USERPAYING; query the order, and the service reverses the payment when confirmBy passes unconfirmed. The same request again returns the order as it stands and does not send the code again. A refused code is an error whose msg and action are for the cashier (40001 invalid or expired code, 40007 insufficient balance).",
      },
      // The schema's findings are listed with the domain's below, so every problem comes back at once.
      attachValidation: true,
    },
    async (request) => {
      const body = request.body;
      const input = body !== null && typeof body === 'object' && !Array.isArray(body) ? body : undefined;
      refuseProblems(
        request,
        input
          ? [
              ...paymentProblems(
                { ...input, scene: input.scene ?? 'native' },
                { ...vkPay.context.rules, orderTypes: vkPay.context.handlers.orderTypes() },
              ),
              ...otherProblems(input.other),
            ]
          : [NOT_AN_OBJECT],
      );
      const userAgent = body.context?.userAgent ?? request.headers['user-agent'];
      const scene = detectScene(
        body.provider,
        {
          platform: body.context?.platform,
          userAgent,
          isPC: body.isPC,
          needQRcode: body.needQRcode,
          ...(body.context?.os !== undefined ? { os: body.context.os } : {}),
        },
        body.scene,
      );
      const { order, client, micropay } = await vkPay.pay({
        merchantId: merchantOf(request),
        provider: body.provider,
        out_trade_no: body.out_trade_no,
        total_fee: body.total_fee,
        subject: body.subject,
        type: body.type,
        scene,
        openid: body.openid,
        user_id: body.user_id,
        custom: body.custom,
        clientIp: body.context?.clientIp ?? request.ip,
        platform: body.context?.platform ?? null,
        userAgent: userAgent ?? null,
        returnUrl: body.return_url ?? null,
        expireAt: body.time_expire ? new Date(now() + body.time_expire * 1000) : null,
        ...(body.other ? { other: body.other } : {}),
        ...(body.session_key ? { sessionKey: body.session_key } : {}),
        ...(body.auth_code ? { auth_code: body.auth_code } : {}),
        ...(body.profit_sharing !== undefined ? { profitSharing: body.profit_sharing } : {}),
      });
      // A payment code answers with its outcome: paid, or the buyer is confirming (query again).
      return ok({ scene, order: orderView(order), payment: client, ...(micropay ? { micropay } : {}) });
    },
  );

  app.get<{
    Params: { outTradeNo: string };
    Querystring: { await_notify?: string; await_max_time?: string };
  }>(
    '/api/payments/:outTradeNo',
    {
      schema: {
        params: orderParams,
        querystring: queryString,
        response: queryPaymentResponse,
        tags: ['payments'],
        summary: 'queryPayment',
      },
    },
    async (request) => {
      const awaitNotify = request.query.await_notify === 'true' || request.query.await_notify === '1';
      const seconds = Math.min(Math.max(Number(request.query.await_max_time ?? 20), 5), 40);
      const answer = await vkPay.queryPayment(merchantOf(request), request.params.outTradeNo, {
        awaitNotify,
        awaitMaxMs: seconds * 1000,
      });
      return ok({
        orderPaid: answer.orderPaid,
        user_order_success: answer.userOrderSuccess,
        order: orderView(answer.order),
      });
    },
  );

  app.post<{ Params: { outTradeNo: string } }>(
    '/api/payments/:outTradeNo/close',
    {
      schema: { params: orderParams, querystring: merchantQuery, tags: ['payments'], summary: 'closeOrder' },
    },
    async (request) => {
      const { checkout, order } = await closeOrCancel(merchantOf(request), request.params.outTradeNo);
      // An order's close answers as it always did; a checkout the buyer never chose has no order.
      return ok(order ? { order } : { order: null, checkout });
    },
  );

  // A checkout in any state: unchosen, it is cancelled (no order can be made for it any more);
  // chosen, its order is closed as above.
  app.post<{ Params: { outTradeNo: string } }>(
    '/api/checkouts/:outTradeNo/cancel',
    {
      schema: {
        params: orderParams,
        querystring: merchantQuery,
        tags: ['payments'],
        summary: 'cancelCheckout',
      },
    },
    async (request) => ok(await closeOrCancel(merchantOf(request), request.params.outTradeNo)),
  );

  // An app store's purchase (Apple IAP): the app's transaction pays an order, or makes one.
  app.post(
    '/api/store-purchases',
    { schema: { querystring: merchantQuery, tags: ['payments'], summary: 'verifyStorePurchase' } },
    async (request) => {
      const body = request.body as Record<string, unknown> | null | undefined;
      if (body === null || typeof body !== 'object' || Array.isArray(body))
        throw new PayError(40001, { field: '(body)', message: NOT_AN_OBJECT.message });
      const text = (field: string, maxLength = 8192): string | undefined => {
        const value = body[field];
        if (value === undefined) return undefined;
        if (typeof value !== 'string' || value.length === 0 || value.length > maxLength)
          throw new PayError(40001, { field, message: `${field} must be a non-empty string` });
        return value;
      };
      const provider = text('provider') ?? 'appleiap';
      const transactionId = text('transaction_id');
      const signedTransaction = text('signed_transaction');
      // An old app's receipt (legacy verifyReceipt), base64 of up to 512 KiB.
      const receipt = text('receipt', 524_288);
      if (!transactionId && !signedTransaction && !receipt)
        throw new PayError(40001, {
          field: 'transaction_id',
          message: 'transaction_id, signed_transaction or receipt is required',
        });
      const outTradeNo = text('out_trade_no');
      const userId = text('user_id');
      const account = text('account');
      const { order, outcome } = await vkPay.verifyStorePurchase({
        merchantId: merchantOf(request),
        provider,
        ...(transactionId ? { transactionId } : {}),
        ...(signedTransaction ? { signedTransaction } : {}),
        ...(receipt ? { receipt } : {}),
        ...(outTradeNo ? { outTradeNo } : {}),
        ...(userId ? { userId } : {}),
        ...(account ? { account } : {}),
      });
      return ok({ order: orderView(order), outcome });
    },
  );

  app.post<{ Body: { out_trade_no: string; out_refund_no: string; refund_fee: number; reason?: string } }>(
    '/api/refunds',
    {
      schema: { body: refundBody, querystring: merchantQuery, tags: ['refunds'], summary: 'refund' },
      attachValidation: true,
    },
    async (request) => {
      const body = request.body as unknown;
      refuseProblems(
        request,
        body !== null && typeof body === 'object' && !Array.isArray(body)
          ? refundProblems(body, vkPay.context.rules.maxFen)
          : [NOT_AN_OBJECT],
      );
      const { refund, order } = await vkPay.refund({ merchantId: merchantOf(request), ...request.body });
      return ok({ refund: refundView(refund), order: orderView(order) });
    },
  );

  app.get<{ Querystring: { status?: 'OPEN' | 'RESOLVED' | 'ALL'; limit?: string } }>(
    '/api/reviews',
    {
      schema: {
        tags: ['reviews'],
        summary:
          'cases a person must settle: paid after close, paid twice, refunds the gateway could not finish',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: ['OPEN', 'RESOLVED', 'ALL'] },
            limit: { type: 'string', pattern: '^[0-9]{1,3}$' },
            merchant: FIELD.merchant,
          },
        },
      },
    },
    async (request) => {
      const reviews = await vkPay.listReviews(merchantOf(request), {
        status: request.query.status ?? 'OPEN',
        ...(request.query.limit ? { limit: Number(request.query.limit) } : {}),
      });
      return ok({ reviews: reviews.map(reviewView) });
    },
  );

  app.post<{ Params: { id: string }; Body: { note: string } }>(
    '/api/reviews/:id/resolve',
    {
      schema: {
        tags: ['reviews'],
        summary: 'close a review with what was done',
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]{1,15}$' } } },
        querystring: merchantQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['note'],
          properties: {
            note: {
              type: 'string',
              minLength: 2,
              maxLength: 500,
              description: 'what was done, 2 to 500 characters',
            },
          },
        },
      },
    },
    async (request) => {
      const review = await vkPay.resolveReview(
        merchantOf(request),
        Number(request.params.id),
        request.body.note,
      );
      return ok({ review: reviewView(review) });
    },
  );

  app.post<{
    Params: { outRefundNo: string };
    Body: {
      type: 'USER_BANK_CARD' | 'MERCHANT_BANK_CARD';
      bank_type?: string;
      bank_account?: string;
      real_name?: string;
    };
  }>(
    '/api/refunds/:outRefundNo/abnormal',
    {
      schema: {
        tags: ['refunds'],
        summary: "send an ABNORMAL refund to a bank card instead (WeChat Pay's abnormal refund)",
        params: refundParams,
        querystring: merchantQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['type'],
          properties: {
            type: { type: 'string', enum: ['USER_BANK_CARD', 'MERCHANT_BANK_CARD'] },
            bank_type: {
              type: 'string',
              maxLength: 32,
              description: 'USER_BANK_CARD: the bank, e.g. ICBC_DEBIT',
            },
            bank_account: {
              type: 'string',
              maxLength: 32,
              pattern: '^[0-9]+$',
              description: 'USER_BANK_CARD: the card number (sent encrypted)',
            },
            real_name: {
              type: 'string',
              maxLength: 64,
              description: "USER_BANK_CARD: the card holder's name (sent encrypted)",
            },
          },
        },
      },
    },
    async (request) => {
      const { type, bank_type, bank_account, real_name } = request.body;
      const { refund, order } = await vkPay.applyAbnormalRefund(
        merchantOf(request),
        request.params.outRefundNo,
        {
          type,
          ...(bank_type ? { bankType: bank_type } : {}),
          ...(bank_account ? { bankAccount: bank_account } : {}),
          ...(real_name ? { realName: real_name } : {}),
        },
      );
      return ok({ refund: refundView(refund), order: orderView(order) });
    },
  );

  app.get<{ Params: { outRefundNo: string } }>(
    '/api/refunds/:outRefundNo',
    {
      schema: { params: refundParams, querystring: merchantQuery, tags: ['refunds'], summary: 'queryRefund' },
    },
    async (request) => {
      const { refund, order, fresh } = await vkPay.queryRefund(
        merchantOf(request),
        request.params.outRefundNo,
      );
      return ok({ refund: refundView(refund), order: orderView(order), fresh });
    },
  );
};
