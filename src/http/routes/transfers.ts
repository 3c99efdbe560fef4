/**
 * Transfers to buyers' wallets over the signed API: create (idempotent on out_transfer_no), query,
 * approve, reject, cancel. Registered inside the API's scope, so the same signature, allowlist and
 * rate limits apply; everything acts for the request's merchant only. The payee's identity and
 * name go in and never come back out.
 */

import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { transferView } from '../../service/transfers.ts';
import type { VkPay } from '../../vk-pay.ts';
import { ok } from '../envelope.ts';
import { FIELD } from './fields.ts';
import { verifiedNotifyRoutes } from './verified-notify.ts';

const merchantQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { merchant: FIELD.merchant },
} as const;
const outTransferNo = {
  type: 'string',
  pattern: '^[0-9A-Za-z]{6,32}$',
  description: '6 to 32 digits and letters',
} as const;
const transferParams = {
  type: 'object',
  required: ['outTransferNo'],
  properties: { outTransferNo },
} as const;
const operator = {
  type: 'string',
  minLength: 1,
  maxLength: 64,
  description: 'the person acting: whoever asks for a transfer cannot approve it',
} as const;

const createTransferBody = {
  type: 'object',
  additionalProperties: false,
  required: ['provider', 'out_transfer_no', 'amount', 'payee', 'remark', 'operator'],
  properties: {
    provider: { type: 'string', enum: ['wxpay', 'alipay'] },
    account: {
      type: 'string',
      maxLength: 64,
      description: "the merchant's gateway account; default when absent",
    },
    out_transfer_no: outTransferNo,
    amount: FIELD.fen,
    payee: {
      type: 'object',
      additionalProperties: false,
      required: ['identity_type', 'identity'],
      properties: {
        identity_type: { type: 'string', enum: ['OPENID', 'ALIPAY_USER_ID', 'ALIPAY_LOGON_ID'] },
        identity: { type: 'string', minLength: 1, maxLength: 128, description: 'stored encrypted only' },
        name: {
          type: 'string',
          minLength: 1,
          maxLength: 64,
          description: "the payee's real name, checked by the gateway; stored encrypted only",
        },
      },
    },
    remark: { type: 'string', minLength: 1, maxLength: 32, description: 'shown to the payee' },
    operator,
    user_id: FIELD.id,
    scene_id: { type: 'string', maxLength: 16, description: 'WeChat Pay transfer_scene_id' },
    scene_report_infos: {
      type: 'array',
      maxItems: 10,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['info_type', 'info_content'],
        properties: {
          info_type: { type: 'string', minLength: 1, maxLength: 15 },
          info_content: { type: 'string', minLength: 1, maxLength: 32 },
        },
      },
      description: 'WeChat Pay transfer_scene_report_infos (scene 1000: 活动名称 and 奖励说明)',
    },
    user_recv_perception: { type: 'string', maxLength: 32 },
  },
} as const;

const decisionBody = {
  type: 'object',
  additionalProperties: false,
  required: ['operator'],
  properties: { operator, note: { type: 'string', maxLength: 200 } },
} as const;

const text = { type: 'string' } as const;
const maybeText = { type: ['string', 'null'] } as const;
const transferViewSchema = {
  type: 'object',
  properties: {
    out_transfer_no: text,
    transfer_id: maybeText,
    provider: text,
    account: text,
    amount: { type: 'integer' },
    remark: text,
    payee_type: text,
    status: {
      type: 'string',
      description:
        'PENDING_APPROVAL, APPROVED, UNKNOWN, PROCESSING, WAIT_USER_CONFIRM, SUCCESS, FAILED, CANCELLED, REJECTED',
    },
    package_info: maybeText,
    fail_reason: maybeText,
    user_id: maybeText,
    requested_by: text,
    decided_by: maybeText,
    decision_note: maybeText,
    success_time: maybeText,
    create_date: text,
    update_date: text,
  },
} as const;
const transferResponse = (extra: Record<string, unknown> = {}) =>
  ({
    200: {
      type: 'object',
      properties: {
        code: { type: 'integer' },
        msg: text,
        data: { type: 'object', properties: { transfer: transferViewSchema, ...extra } },
      },
    },
  }) as const;

interface CreateTransferBody {
  provider: string;
  account?: string;
  out_transfer_no: string;
  amount: number;
  payee: { identity_type: 'OPENID' | 'ALIPAY_USER_ID' | 'ALIPAY_LOGON_ID'; identity: string; name?: string };
  remark: string;
  operator: string;
  user_id?: string;
  scene_id?: string;
  scene_report_infos?: Array<{ info_type: string; info_content: string }>;
  user_recv_perception?: string;
}

export const transferApiRoutes: FastifyPluginAsync<{ vkPay: VkPay }> = async (app, { vkPay }) => {
  const merchantOf = (request: FastifyRequest) => request.merchantId!;

  app.post<{ Body: CreateTransferBody }>(
    '/api/transfers',
    {
      schema: {
        body: createTransferBody,
        querystring: merchantQuery,
        response: transferResponse({ created: { type: 'boolean' } }),
        tags: ['transfers'],
        summary: 'transfer to a buyer (idempotent on out_transfer_no)',
      },
    },
    async (request) => {
      const body = request.body;
      const { transfer, created } = await vkPay.transfer({
        merchantId: merchantOf(request),
        provider: body.provider,
        ...(body.account ? { account: body.account } : {}),
        outTransferNo: body.out_transfer_no,
        amountFen: body.amount,
        payee: {
          identityType: body.payee.identity_type,
          identity: body.payee.identity,
          name: body.payee.name ?? null,
        },
        remark: body.remark,
        requestedBy: body.operator,
        userId: body.user_id ?? null,
        sceneId: body.scene_id ?? null,
        ...(body.scene_report_infos
          ? {
              sceneReportInfos: body.scene_report_infos.map((info) => ({
                infoType: info.info_type,
                infoContent: info.info_content,
              })),
            }
          : {}),
        userRecvPerception: body.user_recv_perception ?? null,
        ip: request.ip,
        userAgent: request.headers['user-agent'] ?? null,
      });
      return ok({ transfer: transferView(transfer), created });
    },
  );

  app.get<{ Params: { outTransferNo: string } }>(
    '/api/transfers/:outTransferNo',
    {
      schema: {
        params: transferParams,
        querystring: merchantQuery,
        response: transferResponse({ fresh: { type: 'boolean' } }),
        tags: ['transfers'],
        summary: 'query a transfer (asks the gateway while its outcome is awaited)',
      },
    },
    async (request) => {
      const { transfer, fresh } = await vkPay.queryTransfer(
        merchantOf(request),
        request.params.outTransferNo,
      );
      return ok({ transfer: transferView(transfer), fresh });
    },
  );

  for (const [action, approve] of [
    ['approve', true],
    ['reject', false],
  ] as const) {
    app.post<{ Params: { outTransferNo: string }; Body: { operator: string; note?: string } }>(
      `/api/transfers/:outTransferNo/${action}`,
      {
        schema: {
          params: transferParams,
          querystring: merchantQuery,
          body: decisionBody,
          response: transferResponse(),
          tags: ['transfers'],
          summary: approve
            ? 'approve a transfer awaiting approval (then it is sent); not by its requester'
            : 'reject a transfer awaiting approval; not by its requester',
        },
      },
      async (request) => {
        const transfer = await vkPay.decideTransfer({
          merchantId: merchantOf(request),
          outTransferNo: request.params.outTransferNo,
          approve,
          decidedBy: request.body.operator,
          note: request.body.note ?? null,
          ip: request.ip,
          userAgent: request.headers['user-agent'] ?? null,
        });
        return ok({ transfer: transferView(transfer) });
      },
    );
  }

  app.post<{ Params: { outTransferNo: string } }>(
    '/api/transfers/:outTransferNo/cancel',
    {
      schema: {
        params: transferParams,
        querystring: merchantQuery,
        response: transferResponse(),
        tags: ['transfers'],
        summary: 'withdraw a transfer the buyer has not confirmed yet (WeChat Pay)',
      },
    },
    async (request) =>
      ok({
        transfer: transferView(await vkPay.cancelTransfer(merchantOf(request), request.params.outTransferNo)),
      }),
  );
};

/** Transfer notifications: POST /notify-transfer/:provider/:merchant[/:account], raw bytes kept. */
export const transferNotifyRoutes = (vkPay: VkPay): FastifyPluginAsync =>
  verifiedNotifyRoutes('/notify-transfer', 'transfer', (request) => vkPay.handleTransferNotify(request));
