/**
 * APIv2 callbacks, both to the same notify URL. A payment notification is XML signed with the API
 * key. A refund notification is not signed: its req_info is AES-256-ECB (PKCS#7) under the
 * lowercase hex MD5 of the API key, and only the API key's holder can have made it. Answered with
 * <xml><return_code>SUCCESS</return_code>...</xml> to stop resends, FAIL to get one.
 */
import { createDecipheriv, createHash } from 'node:crypto';
import { PayError } from '../../../core/errors.ts';
import {
  NOTIFY_FAILURE_STATUS,
  type NotifyAck,
  type NotifyAnswer,
  type NotifyEvent,
} from '../../provider.ts';
import type { WxpayV2Context } from './operations.ts';
import { toPaymentResultV2, toRefundResultV2 } from './results.ts';
import { verifyV2 } from './sign.ts';
import { buildXml, parseXml, type XmlFields, XmlFormatError } from './xml.ts';

function reject(message: string, field?: string): PayError {
  return new PayError(40002, { message: `wxpay v2 notification ${message}`, ...(field ? { field } : {}) });
}

function parse(raw: Buffer | string, what: string): XmlFields {
  try {
    return parseXml(raw);
  } catch (error) {
    const reason = error instanceof XmlFormatError ? error.message : 'unreadable';
    throw new PayError(40001, {
      field: 'body',
      message: `wxpay v2 notification ${what} is not v2 XML: ${reason}`,
    });
  }
}

/** The refund notification key: the API key's MD5 in lowercase hex, 32 bytes as text. */
export function refundNotifyKey(apiKey: string): Buffer {
  return Buffer.from(createHash('md5').update(apiKey, 'utf8').digest('hex'), 'utf8');
}

export function decryptReqInfo(reqInfo: string, apiKey: string): string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(reqInfo)) throw reject('req_info is not base64', 'req_info');
  try {
    const decipher = createDecipheriv('aes-256-ecb', refundNotifyKey(apiKey), null);
    return Buffer.concat([decipher.update(Buffer.from(reqInfo, 'base64')), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw reject('req_info does not decrypt with this account’s key', 'req_info');
  }
}

export function parseNotifyV2(context: WxpayV2Context, rawBody: Buffer): NotifyEvent {
  const { merchant } = context;
  const fields = parse(rawBody, 'body');
  if (fields.return_code !== 'SUCCESS')
    throw new PayError(40001, {
      field: 'return_code',
      message: 'wxpay v2 notification is not return_code SUCCESS',
    });
  if (fields.mch_id !== merchant.mchId)
    throw reject(`is for mch_id ${String(fields.mch_id).slice(0, 32)}, not ${merchant.mchId}`, 'mch_id');
  if (fields.req_info !== undefined) {
    const inner = parse(decryptReqInfo(fields.req_info, merchant.apiKey), 'req_info');
    if (!inner.out_refund_no) throw reject('req_info has no out_refund_no', 'out_refund_no');
    const result = toRefundResultV2(
      {
        outRefundNo: inner.out_refund_no,
        status: inner.refund_status,
        refundId: inner.refund_id,
        refundFee: inner.refund_fee,
        successTime: inner.success_time,
      },
      {
        merchantId: merchant.merchantId,
        source: 'notify',
        eventId: inner.refund_id ? `v2.refund.${inner.refund_id}.${inner.refund_status}` : null,
        raw: { ...inner, appid: fields.appid ?? '', mch_id: fields.mch_id },
      },
    );
    return { kind: 'refund', result };
  }
  if (!verifyV2(fields, merchant.apiKey, merchant.signType)) throw reject('sign does not verify', 'sign');
  if (fields.result_code !== 'SUCCESS') {
    throw new PayError(40001, {
      field: 'result_code',
      gatewayCode: (fields.err_code ?? 'FAIL').slice(0, 64),
      message: 'wxpay v2 notification of a failed payment is not applied',
    });
  }
  const result = toPaymentResultV2(fields, {
    merchantId: merchant.merchantId,
    source: 'notify',
    eventId: fields.transaction_id ? `v2.pay.${fields.transaction_id}` : null,
  });
  return { kind: 'payment', result };
}

export function ackNotifyV2(answer: NotifyAnswer, error?: PayError): NotifyAck {
  const headers = { 'Content-Type': 'text/xml; charset=utf-8' };
  if (answer === 'accepted')
    return { status: 200, headers, body: buildXml({ return_code: 'SUCCESS', return_msg: 'OK' }) };
  return {
    status: NOTIFY_FAILURE_STATUS[answer],
    headers,
    body: buildXml({ return_code: 'FAIL', return_msg: (error?.spec.zh ?? '失败').slice(0, 128) }),
  };
}
