/**
 * The optional second factor: RFC 6238 codes (SHA-1, 6 digits, 30 s), one step of clock drift
 * either way, and each step accepted once. Secrets are sealed at rest like webhook secrets.
 */
import { Secret, TOTP } from 'otpauth';
import type { SealedSecret, SecretBox } from '../webhook-settings.ts';

export const TOTP_ISSUER = 'VK-Pay';
const PERIOD = 30;

export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

function totpOf(secret: string, name: string): TOTP {
  return new TOTP({
    issuer: TOTP_ISSUER,
    label: name,
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
    secret: Secret.fromBase32(secret),
  });
}

/** The otpauth:// URI an authenticator app reads from the QR code. */
export function totpUri(secret: string, name: string): string {
  return totpOf(secret, name).toString();
}

/**
 * The time step the code belongs to, or null when it is wrong or its step is not after
 * `lastStep` (a code seen once is refused the second time).
 */
export function acceptedStep(
  secret: string,
  code: string,
  lastStep: number | null,
  now: Date,
): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totpOf(secret, '').validate({ token: code, timestamp: now.getTime(), window: 1 });
  if (delta === null) return null;
  const step = Math.floor(now.getTime() / 1000 / PERIOD) + delta;
  if (lastStep !== null && step <= lastStep) return null;
  return step;
}

export function sealTotp(box: SecretBox, secret: string): string {
  return JSON.stringify(box.seal(secret));
}

export function openTotp(box: SecretBox, sealed: unknown): string {
  return box.open(sealed as SealedSecret);
}
