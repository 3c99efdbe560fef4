/**
 * Single transfers to an Alipay account: alipay.fund.trans.uni.transfer (product TRANS_ACCOUNT_NO_PWD,
 * scene DIRECT_TRANSFER, payee_info identity + identity_type + name for the real-name check),
 * alipay.fund.trans.common.query by out_biz_no, and the alipay.fund.trans.order.changed message.
 * The payee's identity and name exist in clear text only in this call's arguments.
 */
import { isPayError, PayError } from '../../../core/errors.ts';
import { fenToYuan } from '../../../core/money.ts';
import type { GatewayTransferStatus } from '../../../core/transfer-states.ts';
import type { NotifyAck, NotifyAnswer } from '../../provider.ts';
import type { TransferOperations, TransferQuery, TransferRequest, TransferResult } from '../../transfer.ts';
import type { AlipayContext } from '../context.ts';
import { decodeForm, formCharset } from '../form.ts';
import { ackNotify, verifyCallbackFields } from '../notify.ts';
import { parseBeijingTime } from '../sign.ts';
import { fenOf } from './results.ts';

const PRODUCT = { product_code: 'TRANS_ACCOUNT_NO_PWD', biz_scene: 'DIRECT_TRANSFER' } as const;

/** SUCCESS: paid; DEALING: in progress; FAIL and REFUND (退票: paid, then returned): not paid. */
const STATES: Readonly<Record<string, GatewayTransferStatus>> = {
  SUCCESS: 'SUCCESS',
  DEALING: 'PROCESSING',
  WAIT_PAY: 'PROCESSING',
  INIT: 'PROCESSING',
  FAIL: 'FAILED',
  REFUND: 'FAILED',
  CLOSED: 'FAILED',
};

/**
 * Business refusals of a transfer request: nothing was paid, and the same request will not succeed
 * (unverified list, from Alipay's error-code pages; anything else leaves the outcome to a query).
 */
const FINAL_REFUSALS: ReadonlySet<string> = new Set([
  'PAYEE_ACCOUNT_STATUS_ERROR',
  'PAYEE_USER_INFO_ERROR',
  'PAYEE_NOT_EXIST',
  'PAYEE_ACC_OCUPIED',
  'PAYER_BALANCE_NOT_ENOUGH',
  'BALANCE_IS_NOT_ENOUGH',
  'PAYEE_CERT_INFO_ERROR',
  'EXCEED_LIMIT_SM_AMOUNT',
  'EXCEED_LIMIT_DM_AMOUNT',
  'PERMIT_CHECK_PERM_IDENTITY_THEFT',
  'PAYMENT_INFO_INCONSISTENCY',
]);

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

function toTransferResult(
  response: Record<string, unknown>,
  where: {
    merchantId: string;
    outTransferNo: string;
    source: TransferResult['source'];
    eventId?: string | null;
  },
): TransferResult {
  const status = typeof response.status === 'string' ? STATES[response.status] : undefined;
  if (!status)
    throw new PayError(50000, {
      gatewayCode: 'MALFORMED_RESPONSE',
      message: `alipay transfer: unknown status ${JSON.stringify(response.status ?? null).slice(0, 40)}`,
      outcomeUnknown: where.source === 'request',
    });
  if (response.out_biz_no !== undefined && response.out_biz_no !== where.outTransferNo)
    throw new PayError(40002, {
      field: 'out_biz_no',
      message: `alipay transfer answer is for another out_biz_no than ${where.outTransferNo}`,
    });
  return {
    merchantId: where.merchantId,
    provider: 'alipay',
    outTransferNo: where.outTransferNo,
    status,
    transferId: text(response.order_id),
    amountFen:
      typeof response.trans_amount === 'string'
        ? fenOf(response.trans_amount, 'trans_amount', 'transfer answer')
        : null,
    failReason:
      text(response.fail_reason) ??
      text(response.error_code) ??
      (status === 'FAILED' ? String(response.status) : null),
    successTime:
      status === 'SUCCESS'
        ? parseBeijingTime(text(response.pay_date) ?? text(response.trans_date) ?? undefined)
        : null,
    eventId: where.eventId ?? null,
    source: where.source,
  };
}

export async function transferToAccount(
  context: AlipayContext,
  request: TransferRequest,
): Promise<TransferResult> {
  const { identityType } = request.payee;
  if (identityType !== 'ALIPAY_USER_ID' && identityType !== 'ALIPAY_LOGON_ID')
    throw new PayError(40001, {
      field: 'payee.identity_type',
      message: 'an Alipay transfer goes to an ALIPAY_USER_ID or an ALIPAY_LOGON_ID',
    });
  const payeeInfo: Record<string, string> = { identity: request.payee.identity, identity_type: identityType };
  if (request.payee.name) payeeInfo.name = request.payee.name;
  try {
    const { response } = await context.transport.call({
      method: 'alipay.fund.trans.uni.transfer',
      bizContent: {
        out_biz_no: request.outTransferNo,
        trans_amount: fenToYuan(request.amountFen),
        ...PRODUCT,
        order_title: request.remark,
        payee_info: payeeInfo,
        remark: request.remark,
      },
      notifyUrl: request.notifyUrl,
      write: true,
    });
    return toTransferResult(response, {
      merchantId: request.merchantId,
      outTransferNo: request.outTransferNo,
      source: 'request',
    });
  } catch (error) {
    // A signed business refusal: the transfer failed at the gateway, final.
    if (
      isPayError(error) &&
      !error.outcomeUnknown &&
      error.gatewayCode &&
      FINAL_REFUSALS.has(error.gatewayCode)
    )
      return {
        merchantId: request.merchantId,
        provider: 'alipay',
        outTransferNo: request.outTransferNo,
        status: 'FAILED',
        transferId: null,
        failReason: error.gatewayCode,
        source: 'request',
      };
    throw error;
  }
}

export async function queryTransferOrder(
  context: AlipayContext,
  query: TransferQuery,
): Promise<TransferResult> {
  try {
    const { response } = await context.transport.call({
      method: 'alipay.fund.trans.common.query',
      bizContent: { out_biz_no: query.outTransferNo, ...PRODUCT },
      write: false,
    });
    return toTransferResult(response, {
      merchantId: query.merchantId,
      outTransferNo: query.outTransferNo,
      source: 'query',
    });
  } catch (error) {
    if (isPayError(error) && error.gatewayCode === 'ORDER_NOT_EXIST')
      throw new PayError(40005, {
        field: 'out_transfer_no',
        gatewayCode: 'ORDER_NOT_EXIST',
        message: `alipay has no transfer ${query.outTransferNo}`,
      });
    throw error;
  }
}

/** Alipay resends a message for about a day; an older one can only be a replay. */
const MESSAGE_MAX_AGE_MS = 25 * 3600_000;

/** alipay.fund.trans.order.changed: form fields signed like every notification, biz_content JSON. */
export function parseTransferMessage(
  context: AlipayContext,
  headers: Record<string, string | string[] | undefined>,
  rawBody: Buffer,
): TransferResult {
  const contentType = Object.entries(headers).find(([name]) => name.toLowerCase() === 'content-type')?.[1];
  const fields = decodeForm(
    rawBody,
    formCharset(typeof contentType === 'string' ? contentType : undefined, rawBody),
  );
  const unsigned = verifyCallbackFields(context.merchant, fields, 'transfer message');
  if (unsigned.msg_method !== 'alipay.fund.trans.order.changed')
    throw new PayError(40001, {
      field: 'msg_method',
      message: 'not an alipay.fund.trans.order.changed message',
    });
  const sentAt = Number(unsigned.utc_timestamp);
  if (Number.isFinite(sentAt) && context.now() - sentAt > MESSAGE_MAX_AGE_MS)
    throw new PayError(40002, {
      field: 'utc_timestamp',
      message: 'alipay transfer message older than its resend window',
    });
  let biz: Record<string, unknown>;
  try {
    biz = JSON.parse(unsigned.biz_content ?? '') as Record<string, unknown>;
  } catch {
    throw new PayError(40001, {
      field: 'biz_content',
      message: 'alipay transfer message biz_content is not JSON',
    });
  }
  const outBizNo = text(biz.out_biz_no);
  if (!outBizNo) throw new PayError(40001, { field: 'out_biz_no', message: 'no out_biz_no' });
  return toTransferResult(biz, {
    merchantId: context.merchant.merchantId,
    outTransferNo: outBizNo,
    source: 'notify',
    eventId: unsigned.notify_id ?? null,
  });
}

export function alipayTransferOperations(
  contextFor: (merchantId: string, account: string | undefined) => AlipayContext,
): TransferOperations {
  return {
    identityTypes: ['ALIPAY_USER_ID', 'ALIPAY_LOGON_ID'],
    transfer: async (request) => transferToAccount(contextFor(request.merchantId, request.account), request),
    queryTransfer: async (query) => queryTransferOrder(contextFor(query.merchantId, query.account), query),
    parseTransferNotify: async (merchantId, headers, rawBody, account) =>
      parseTransferMessage(contextFor(merchantId, account), headers, rawBody),
    ackTransferNotify: (answer: NotifyAnswer): NotifyAck => ackNotify(answer),
  };
}
