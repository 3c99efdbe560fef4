/**
 * 发起异常退款: an ABNORMAL refund (the buyer's card closed, the account frozen) is paid to a bank
 * card instead. The card number and the holder's name are encrypted with WeChat Pay's public key
 * (RSA-OAEP, SHA-1 and MGF1), and Wechatpay-Serial names that key; they exist in clear text only
 * in this call's arguments.
 */
import { constants, type KeyObject, publicEncrypt } from 'node:crypto';
import { PayError } from '../../../core/errors.ts';
import type { AbnormalRefundRequest, RefundResult } from '../../provider.ts';
import { segment, type WxpayContext } from '../context.ts';
import type { RefundWire } from '../wire.ts';
import { toRefundResult } from './results.ts';

export function encryptSensitive(key: KeyObject, text: string): string {
  return publicEncrypt(
    { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    Buffer.from(text, 'utf8'),
  ).toString('base64');
}

export async function applyAbnormalRefund(
  context: WxpayContext,
  request: AbnormalRefundRequest,
): Promise<RefundResult> {
  const body: Record<string, string> = {
    // Partner mode names the sub-merchant (an unverified detail: see docs/providers/wxpay.md).
    ...(context.partner ? { sub_mchid: context.partner.subMchId } : {}),
    out_refund_no: request.outRefundNo,
    type: request.type,
  };
  let serial: string | undefined;
  if (request.type === 'USER_BANK_CARD') {
    const missing = (['bankType', 'bankAccount', 'realName'] as const).filter((field) => !request[field]);
    if (missing.length > 0)
      throw new PayError(40001, {
        field: missing[0],
        message: `a refund to the buyer's bank card needs ${missing.join(', ')}`,
      });
    const encryption = await context.keys.encryptionKey();
    serial = encryption.serial;
    body.bank_type = request.bankType!;
    body.bank_account = encryptSensitive(encryption.key, request.bankAccount!);
    body.real_name = encryptSensitive(encryption.key, request.realName!);
  }
  const reply = await context.transport.call<RefundWire>({
    api: 'refund.abnormal',
    method: 'POST',
    path: `/v3/refund/domestic/refunds/${segment(request.refundId)}/apply-abnormal-refund`,
    body,
    write: true,
    ...(serial ? { serial } : {}),
  });
  return toRefundResult(reply.data, {
    merchantId: request.merchantId,
    source: 'request',
    outRefundNo: request.outRefundNo,
  });
}
