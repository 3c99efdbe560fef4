/**
 * The App Store's compact JWS: ES256 over base64url(header).base64url(payload), the header naming
 * the algorithm and carrying the x5c chain (leaf, intermediate, root). Written with Node's crypto
 * alone, so the emulator shares no signing code with the client it checks.
 */
import { type KeyObject, sign } from 'node:crypto';
import type { SigningChain } from './test-ca.ts';

const b64url = (bytes: Buffer | string): string => Buffer.from(bytes).toString('base64url');

/** Signs `payload` with the chain's leaf key; the header is exactly Apple's `{alg, x5c}`. */
export function signAppleJws(payload: object, chain: SigningChain): string {
  return signCompact({ alg: 'ES256', x5c: chain.x5c }, payload, chain.leafKey);
}

export function signCompact(header: object, payload: object, key: KeyObject): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(signature)}`;
}
