/**
 * The App Store Server API transport: every request carries a fresh ES256 JWT of the in-app
 * purchase key (header kid, typ JWT; claims iss, iat, exp five minutes later, aud
 * appstoreconnect-v1, bid), answers are JSON, errors Apple's {errorCode, errorMessage}.
 */
import { SignJWT } from 'jose';
import { PayError } from '../../core/errors.ts';
import type { AppleIapMerchant } from './config.ts';
import { appleApiError } from './errors.ts';
import type { AppleEnvironment } from './signed-data.ts';

const TOKEN_LIFETIME_SECONDS = 300;

export type AppleFetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<{
  status: number;
  text(): Promise<string>;
}>;

export class AppleApiClient {
  constructor(
    private readonly merchant: AppleIapMerchant,
    private readonly fetchImpl: AppleFetch,
    private readonly now: () => number,
  ) {}

  /** The bearer token Apple asks for, signed now. */
  async bearerToken(): Promise<string> {
    const iat = Math.floor(this.now() / 1000);
    return new SignJWT({ bid: this.merchant.bundleId })
      .setProtectedHeader({ alg: 'ES256', kid: this.merchant.keyId, typ: 'JWT' })
      .setIssuer(this.merchant.issuerId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + TOKEN_LIFETIME_SECONDS)
      .setAudience('appstoreconnect-v1')
      .sign(this.merchant.privateKey);
  }

  async get<T>(environment: AppleEnvironment, path: string): Promise<T> {
    return this.send<T>('GET', environment, path);
  }

  async send<T>(method: 'GET' | 'POST', environment: AppleEnvironment, path: string): Promise<T> {
    const url = `${this.merchant.baseUrls[environment]}${path}`;
    let status: number;
    let text: string;
    try {
      const response = await this.fetchImpl(url, {
        method,
        headers: { authorization: `Bearer ${await this.bearerToken()}`, accept: 'application/json' },
        signal: AbortSignal.timeout(this.merchant.timeoutMs),
      });
      status = response.status;
      text = await response.text();
    } catch (cause) {
      throw new PayError(40004, {
        message: 'App Store Server API unreachable',
        cause,
        outcomeUnknown: false,
      });
    }
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // Apple's 401 has no JSON body; a non-JSON 200 is a gateway fault below.
    }
    if (status >= 200 && status < 300) {
      if (body === null || typeof body !== 'object')
        throw new PayError(40010, {
          gatewayCode: `HTTP_${status}`,
          message: 'App Store Server API: unreadable answer',
        });
      return body as T;
    }
    const error = (body ?? {}) as { errorCode?: unknown; errorMessage?: unknown };
    throw appleApiError(
      status,
      typeof error.errorCode === 'number' ? error.errorCode : null,
      typeof error.errorMessage === 'string' ? error.errorMessage : null,
    );
  }
}
