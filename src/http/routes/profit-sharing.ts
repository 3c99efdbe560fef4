/**
 * Profit sharing (分账) over the signed API: receivers, splits (idempotent on out_split_no),
 * unfreeze, returns, and an order's splits with what is left to split. Registered inside the API's
 * scope, so the same signature, allowlist and rate limits apply; everything acts for the request's
 * merchant only. A receiver's name goes in and never comes back out.
 */

import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { SplitReceiverType } from '../../providers/profit-sharing.ts';
import type { VkPay } from '../../vk-pay.ts';
import { ok } from '../envelope.ts';
import { FIELD } from './fields.ts';
import { verifiedNotifyRoutes } from './verified-notify.ts';

const merchantQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { merchant: FIELD.merchant },
} as const;
const number = {
  type: 'string',
  pattern: '^[0-9A-Za-z_\\-|*@]{1,64}$',
  description: '1 to 64 digits, letters or _-|*@; unique per merchant',
} as const;
const receiverType = {
  type: 'string',
  enum: ['MERCHANT_ID', 'PERSONAL_OPENID', 'ALIPAY_USER_ID', 'ALIPAY_LOGON_ID'],
} as const;
const receiverAccount = { type: 'string', minLength: 1, maxLength: 64 } as const;
const description = {
  type: 'string',
  minLength: 1,
  maxLength: 80,
  description: 'shown to the receiver',
} as const;
const text = { type: 'string' } as const;
const maybeText = { type: ['string', 'null'] } as const;
const integer = { type: 'integer' } as const;

const receiverBody = {
  type: 'object',
  additionalProperties: false,
  required: ['provider', 'type', 'account'],
  properties: {
    provider: { type: 'string', enum: ['wxpay', 'alipay'] },
    merchant_account: {
      type: 'string',
      maxLength: 64,
      description: "the merchant's gateway account; default when absent",
    },
    type: receiverType,
    account: receiverAccount,
    name: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      description:
        "the receiver's real or company name (WeChat: required for MERCHANT_ID); stored encrypted only",
    },
    relation_type: {
      type: 'string',
      maxLength: 32,
      description: 'WeChat relation_type (STORE, PARTNER, ...)',
    },
    custom_relation: { type: 'string', maxLength: 10 },
  },
} as const;

const removeReceiverBody = {
  type: 'object',
  additionalProperties: false,
  required: ['provider', 'type', 'account'],
  properties: {
    provider: { type: 'string', enum: ['wxpay', 'alipay'] },
    merchant_account: { type: 'string', maxLength: 64 },
    type: receiverType,
    account: receiverAccount,
  },
} as const;

const splitBody = {
  type: 'object',
  additionalProperties: false,
  required: ['out_trade_no', 'out_split_no', 'receivers'],
  properties: {
    out_trade_no: FIELD.outTradeNo,
    out_split_no: number,
    finish: { type: 'boolean', description: 'unfreeze what is left to the merchant with this split' },
    receivers: {
      type: 'array',
      minItems: 1,
      maxItems: 50,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'account', 'amount', 'description'],
        properties: { type: receiverType, account: receiverAccount, amount: FIELD.fen, description },
      },
    },
  },
} as const;

const unfreezeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['out_trade_no', 'out_split_no'],
  properties: { out_trade_no: FIELD.outTradeNo, out_split_no: number, description },
} as const;

const returnBody = {
  type: 'object',
  additionalProperties: false,
  required: ['out_split_no', 'out_return_no', 'account', 'amount', 'description'],
  properties: {
    out_split_no: number,
    out_return_no: number,
    account: { ...receiverAccount, description: 'the receiver that gives it back (WeChat: a MERCHANT_ID)' },
    amount: FIELD.fen,
    description,
  },
} as const;

const lineSchema = {
  type: 'object',
  properties: {
    type: text,
    account: text,
    amount: integer,
    description: text,
    result: { type: 'string', description: 'PENDING, SUCCESS, CLOSED' },
    fail_reason: maybeText,
    detail_id: maybeText,
    finished_at: maybeText,
  },
} as const;
const splitSchema = {
  type: 'object',
  properties: {
    out_split_no: text,
    split_id: maybeText,
    out_trade_no: text,
    provider: text,
    account: text,
    kind: { type: 'string', description: 'split or unfreeze' },
    status: { type: 'string', description: 'UNKNOWN, PROCESSING, FINISHED, FAILED' },
    finish: { type: 'boolean' },
    amount: integer,
    fail_reason: maybeText,
    lines: { type: 'array', items: lineSchema },
    create_date: text,
    update_date: text,
  },
} as const;
const returnSchema = {
  type: 'object',
  properties: {
    out_return_no: text,
    out_split_no: text,
    return_id: maybeText,
    receiver_type: text,
    receiver_account: text,
    amount: integer,
    description: text,
    status: { type: 'string', description: 'UNKNOWN, PROCESSING, SUCCESS, FAILED' },
    fail_reason: maybeText,
    with_refund: { type: 'boolean' },
    finished_at: maybeText,
    create_date: text,
    update_date: text,
  },
} as const;
const receiverSchema = {
  type: 'object',
  properties: {
    provider: text,
    account: text,
    type: text,
    receiver_account: text,
    relation_type: maybeText,
    bound_at: maybeText,
  },
} as const;
const envelope = (data: Record<string, unknown>) =>
  ({
    200: {
      type: 'object',
      properties: { code: integer, msg: text, data: { type: 'object', properties: data } },
    },
  }) as const;

interface ReceiverBody {
  provider: string;
  merchant_account?: string;
  type: SplitReceiverType;
  account: string;
  name?: string;
  relation_type?: string;
  custom_relation?: string;
}

interface SplitBody {
  out_trade_no: string;
  out_split_no: string;
  finish?: boolean;
  receivers: Array<{ type: SplitReceiverType; account: string; amount: number; description: string }>;
}

export const profitSharingApiRoutes: FastifyPluginAsync<{ vkPay: VkPay }> = async (app, { vkPay }) => {
  const merchantOf = (request: FastifyRequest) => request.merchantId!;
  const tags = ['profit-sharing'];

  app.post<{ Body: ReceiverBody }>(
    '/api/profit-sharing/receivers',
    {
      schema: {
        body: receiverBody,
        querystring: merchantQuery,
        response: envelope({ receiver: receiverSchema }),
        tags,
        summary: 'bind a receiver at the gateway (idempotent)',
      },
    },
    async (request) => {
      const body = request.body;
      const receiver = await vkPay.addSplitReceiver({
        merchantId: merchantOf(request),
        provider: body.provider,
        ...(body.merchant_account ? { account: body.merchant_account } : {}),
        receiver: {
          type: body.type,
          account: body.account,
          name: body.name ?? null,
          relationType: body.relation_type ?? null,
          customRelation: body.custom_relation ?? null,
        },
      });
      return ok({ receiver });
    },
  );

  app.post<{ Body: Omit<ReceiverBody, 'name' | 'relation_type' | 'custom_relation'> }>(
    '/api/profit-sharing/receivers/remove',
    {
      schema: {
        body: removeReceiverBody,
        querystring: merchantQuery,
        response: envelope({ removed: { type: 'boolean' } }),
        tags,
        summary: 'unbind a receiver at the gateway (idempotent)',
      },
    },
    async (request) => {
      const body = request.body;
      await vkPay.removeSplitReceiver({
        merchantId: merchantOf(request),
        provider: body.provider,
        ...(body.merchant_account ? { account: body.merchant_account } : {}),
        type: body.type,
        receiverAccount: body.account,
      });
      return ok({ removed: true });
    },
  );

  app.post<{ Body: SplitBody }>(
    '/api/profit-sharing/splits',
    {
      schema: {
        body: splitBody,
        querystring: merchantQuery,
        response: envelope({ split: splitSchema, created: { type: 'boolean' } }),
        tags,
        summary: 'split a paid order between receivers (idempotent on out_split_no)',
      },
    },
    async (request) => {
      const body = request.body;
      const { split, created } = await vkPay.splitOrder({
        merchantId: merchantOf(request),
        outTradeNo: body.out_trade_no,
        outSplitNo: body.out_split_no,
        finish: body.finish ?? false,
        lines: body.receivers.map((receiver) => ({
          type: receiver.type,
          account: receiver.account,
          amountFen: receiver.amount,
          description: receiver.description,
        })),
      });
      return ok({ split, created });
    },
  );

  app.get<{ Params: { outSplitNo: string } }>(
    '/api/profit-sharing/splits/:outSplitNo',
    {
      schema: {
        params: { type: 'object', required: ['outSplitNo'], properties: { outSplitNo: number } },
        querystring: merchantQuery,
        response: envelope({ split: splitSchema, fresh: { type: 'boolean' } }),
        tags,
        summary: 'query a split (asks the gateway while its outcome is awaited)',
      },
    },
    async (request) => ok(await vkPay.querySplit(merchantOf(request), request.params.outSplitNo)),
  );

  app.post<{ Body: { out_trade_no: string; out_split_no: string; description?: string } }>(
    '/api/profit-sharing/unfreeze',
    {
      schema: {
        body: unfreezeBody,
        querystring: merchantQuery,
        response: envelope({ split: splitSchema, created: { type: 'boolean' } }),
        tags,
        summary: 'give what is left unsplit back to the merchant; no more splits of the order after it',
      },
    },
    async (request) =>
      ok(
        await vkPay.unfreezeOrder({
          merchantId: merchantOf(request),
          outTradeNo: request.body.out_trade_no,
          outSplitNo: request.body.out_split_no,
          description: request.body.description ?? 'unfreeze',
        }),
      ),
  );

  app.post<{
    Body: {
      out_split_no: string;
      out_return_no: string;
      account: string;
      amount: number;
      description: string;
    };
  }>(
    '/api/profit-sharing/returns',
    {
      schema: {
        body: returnBody,
        querystring: merchantQuery,
        response: envelope({ return: returnSchema, created: { type: 'boolean' } }),
        tags,
        summary: 'take a split back from a receiver (WeChat Pay; idempotent on out_return_no)',
      },
    },
    async (request) => {
      const body = request.body;
      const { ret, created } = await vkPay.returnSplit({
        merchantId: merchantOf(request),
        outSplitNo: body.out_split_no,
        outReturnNo: body.out_return_no,
        receiverAccount: body.account,
        amountFen: body.amount,
        description: body.description,
      });
      return ok({ return: ret, created });
    },
  );

  app.get<{ Params: { outReturnNo: string } }>(
    '/api/profit-sharing/returns/:outReturnNo',
    {
      schema: {
        params: { type: 'object', required: ['outReturnNo'], properties: { outReturnNo: number } },
        querystring: merchantQuery,
        response: envelope({ return: returnSchema, fresh: { type: 'boolean' } }),
        tags,
        summary: 'query a return (asks the gateway while its outcome is awaited)',
      },
    },
    async (request) => {
      const { ret, fresh } = await vkPay.queryReturn(merchantOf(request), request.params.outReturnNo);
      return ok({ return: ret, fresh });
    },
  );

  app.get<{ Params: { outTradeNo: string } }>(
    '/api/profit-sharing/orders/:outTradeNo',
    {
      schema: {
        params: { type: 'object', required: ['outTradeNo'], properties: { outTradeNo: FIELD.outTradeNo } },
        querystring: merchantQuery,
        response: envelope({
          out_trade_no: text,
          total_fee: integer,
          splittable: {
            ...integer,
            description: 'what may still be split: amount − refunded − split net of returns',
          },
          gateway_unsplit: { type: ['integer', 'null'], description: 'what the gateway still holds frozen' },
          splits: { type: 'array', items: splitSchema },
          returns: { type: 'array', items: returnSchema },
        }),
        tags,
        summary: "an order's splits and returns, and the amount left to split",
      },
    },
    async (request) => {
      const found = await vkPay.orderSplits(merchantOf(request), request.params.outTradeNo);
      return ok({
        out_trade_no: found.outTradeNo,
        total_fee: found.totalFen,
        splittable: found.splittableFen,
        gateway_unsplit: found.gatewayUnsplitFen,
        splits: found.splits,
        returns: found.returns,
      });
    },
  );
};

/** Split notifications: POST /notify-profit-sharing/:provider/:merchant[/:account], raw bytes kept. */
export const profitSharingNotifyRoutes = (vkPay: VkPay): FastifyPluginAsync =>
  verifiedNotifyRoutes('/notify-profit-sharing', 'split', (request) => vkPay.handleSplitNotify(request));
