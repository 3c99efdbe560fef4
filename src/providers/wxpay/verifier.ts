/**
 * Checks the Wechatpay-* signature headers of an API response or a notification against its raw
 * bytes: all headers present, not a SIGNTEST probe, timestamp within 5 minutes, a key for the
 * serial, and a valid SHA256withRSA signature. Shared by the transport and the notification parser.
 */
import type { KeyObject } from 'node:crypto';
import { PayError } from '../../core/errors.ts';
import { AUTH_SCHEMA, responseMessage, rsaVerify } from './sign.ts';

/** The SDKs' window (AXIOS MAXIMUM_CLOCK_OFFSET, WXJAVA RESPONSE_EXPIRED_MINUTES). */
export const MAX_CLOCK_OFFSET_SECONDS = 300;
export const SIGNTEST_PREFIX = 'WECHATPAY/SIGNTEST/';

export type HeaderLookup = (name: string) => string | undefined;
export type KeyLookup = (serial: string) => Promise<KeyObject>;

export interface SignedMessage {
  header: HeaderLookup;
  rawBody: Buffer;
  nowMs: number;
  lookupKey: KeyLookup;
  /** Which message is checked, for error text: 'response' or 'notification'. */
  what: string;
}

const signError = (message: string, field?: string): PayError =>
  new PayError(40002, { message, ...(field ? { field } : {}) });

/** The Wechatpay-Serial that signed the message (after a successful check), for logging. */
export async function verifySignedMessage(message: SignedMessage): Promise<string> {
  const timestamp = message.header('wechatpay-timestamp');
  const nonce = message.header('wechatpay-nonce');
  const signature = message.header('wechatpay-signature');
  const serial = message.header('wechatpay-serial');
  if (!timestamp || !nonce || !signature || !serial) {
    throw signError(`wxpay ${message.what} is missing Wechatpay-* signature headers`, 'Wechatpay-Signature');
  }
  if (signature.startsWith(SIGNTEST_PREFIX)) {
    // WeChat's probe that merchants really verify: it must never pass.
    throw signError(
      `wxpay ${message.what} carries a WECHATPAY/SIGNTEST/ probe signature`,
      'Wechatpay-Signature',
    );
  }
  const type = message.header('wechatpay-signature-type');
  if (type && type !== AUTH_SCHEMA) {
    throw signError(`wxpay ${message.what} signature type ${type.slice(0, 40)} is not supported`);
  }
  if (!/^\d{1,12}$/.test(timestamp)) throw signError(`wxpay ${message.what} timestamp is malformed`);
  const offset = Math.abs(Math.floor(message.nowMs / 1000) - Number(timestamp));
  if (offset > MAX_CLOCK_OFFSET_SECONDS) {
    throw signError(
      `wxpay ${message.what} timestamp is ${offset}s away from local time (limit ${MAX_CLOCK_OFFSET_SECONDS}s)`,
      'Wechatpay-Timestamp',
    );
  }
  const key = await message.lookupKey(serial);
  if (!rsaVerify(responseMessage(timestamp, nonce, message.rawBody), signature, key)) {
    throw signError(`wxpay ${message.what} signature does not verify`, 'Wechatpay-Signature');
  }
  return serial;
}
