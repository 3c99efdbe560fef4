/**
 * The Wechatpay-* headers the gateway puts on API responses and notifications, and the three
 * signature faults a client must catch: a `WECHATPAY/SIGNTEST/` probe, a stale timestamp and a
 * serial the client has never been given.
 */
import type { GatewaySigningKey } from './gateway-keys.ts';
import {
  randomAlphanumeric,
  randomDigits,
  randomHexUpper,
  type SandboxRuntime,
  unixSeconds,
} from './runtime.ts';
import { responseSigningString, signSha256Rsa } from './wire-crypto.ts';

export type SignatureFaultKind = 'signTest' | 'staleTimestamp' | 'unknownSerial';
export const SIGNATURE_FAULT_KINDS: readonly SignatureFaultKind[] = [
  'signTest',
  'staleTimestamp',
  'unknownSerial',
];

export const SIGNATURE_TYPE = 'WECHATPAY2-SHA256-RSA2048';
export const SIGNTEST_PREFIX = 'WECHATPAY/SIGNTEST/';
/** Ten minutes: well outside the five-minute window every SDK enforces. */
const STALE_OFFSET_SECONDS = 600;

export function gatewaySignatureHeaders(
  key: GatewaySigningKey,
  body: string,
  runtime: SandboxRuntime,
  fault?: SignatureFaultKind,
): Record<string, string> {
  const offset = fault === 'staleTimestamp' ? STALE_OFFSET_SECONDS : 0;
  // Stamped with wall time: the merchant checks it against its own clock.
  const timestamp = String(unixSeconds(runtime.clock.wall.now()) - offset);
  const nonce = randomAlphanumeric(runtime.random, 32);
  const signature =
    fault === 'signTest'
      ? `${SIGNTEST_PREFIX}${runtime.random(256).toString('base64')}`
      : signSha256Rsa(responseSigningString(timestamp, nonce, body), key.privateKey);
  const serial =
    fault === 'unknownSerial'
      ? key.kind === 'publicKey'
        ? `PUB_KEY_ID_${randomDigits(runtime.random, 32)}`
        : randomHexUpper(runtime.random, 40)
      : key.serial;
  return {
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Signature': signature,
    'Wechatpay-Serial': serial,
    'Wechatpay-Signature-Type': SIGNATURE_TYPE,
  };
}
