/**
 * TRANSACTION.SUCCESS notifications as WeChat Pay sends them (protocols.md A.3, A.5): the
 * Transaction encrypted with AEAD_AES_256_GCM under the APIv3 key, the body signed over
 * "timestamp\nnonce\nbody\n" by a gateway key the service's provider is configured to trust. The
 * bench plays the gateway here, so it borrows the emulator's wire primitives, not the provider's.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import {
  encryptAes256Gcm,
  responseSigningString,
  signSha256Rsa,
} from '../../src/sandbox/wxpay/wire-crypto.ts';

/** The order numbers and amounts the service's seed makes, so notifications can match them. */
export const seededOrder = (prefix: string, i: number) => ({
  outTradeNo: `${prefix}${i.toString().padStart(7, '0')}`,
  totalFen: 100 + (i % 1000),
});

/** A stand-in WeChat Pay public key (public-key mode) whose private half the bench holds. */
export interface BenchGatewayKey {
  id: string;
  privateKey: KeyObject;
  publicKeyPem: string;
}

export function newGatewayKey(): BenchGatewayKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const digits = Array.from(randomBytes(28), (byte) => String(byte % 10)).join('');
  return {
    id: `PUB_KEY_ID_0114${digits}`,
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export interface SignedNotification {
  headers: Record<string, string>;
  body: string;
}

function beijingTime(ms: number): string {
  return `${new Date(ms + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
}

export function paymentNotification(
  gateway: BenchGatewayKey,
  merchant: { mchId: string; appId: string; apiV3Key: string },
  order: { outTradeNo: string; totalFen: number },
  nowMs: number,
): SignedNotification {
  const transaction = {
    appid: merchant.appId,
    mchid: merchant.mchId,
    out_trade_no: order.outTradeNo,
    transaction_id: `42000${randomBytes(12).toString('hex').slice(0, 23)}`,
    trade_type: 'NATIVE',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    bank_type: 'OTHERS',
    attach: '',
    success_time: beijingTime(nowMs),
    payer: { openid: 'oBench000000000000000000000' },
    amount: { total: order.totalFen, payer_total: order.totalFen, currency: 'CNY', payer_currency: 'CNY' },
  };
  const resourceNonce = randomBytes(6).toString('hex');
  const body = JSON.stringify({
    id: randomUUID(),
    create_time: beijingTime(nowMs),
    resource_type: 'encrypt-resource',
    event_type: 'TRANSACTION.SUCCESS',
    summary: '支付成功',
    resource: {
      original_type: 'transaction',
      algorithm: 'AEAD_AES_256_GCM',
      ciphertext: encryptAes256Gcm(
        merchant.apiV3Key,
        resourceNonce,
        'transaction',
        JSON.stringify(transaction),
      ),
      associated_data: 'transaction',
      nonce: resourceNonce,
    },
  });
  const timestamp = String(Math.floor(nowMs / 1000));
  const nonce = randomBytes(16).toString('hex').toUpperCase();
  return {
    headers: {
      'content-type': 'application/json',
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': nonce,
      'wechatpay-serial': gateway.id,
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
      'wechatpay-signature': signSha256Rsa(responseSigningString(timestamp, nonce, body), gateway.privateKey),
    },
    body,
  };
}
