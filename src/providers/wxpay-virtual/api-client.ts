/**
 * The one sender of a mini program's server API calls: the access token from /cgi-bin/stable_token,
 * cached until shortly before it expires and fetched again when the server calls it stale; every
 * /xpay/ call signed with pay_sig over its exact body; errcode mapped to the unified table.
 */
import { PayError } from '../../core/errors.ts';
import type { WxpayVirtualMerchant } from './config.ts';
import { STALE_TOKEN_CODES, virtualApiError } from './errors.ts';
import { apiPaySigOf } from './sign.ts';

export type VirtualFetch = (url: string, init: RequestInit) => Promise<Response>;

/** A token is used until this long before WeChat's expiry, so no call races its end. */
const TOKEN_MARGIN_MS = 5 * 60_000;

export class VirtualApiClient {
  private token: { value: string; expiresAt: number } | null = null;
  private pending: Promise<string> | null = null;

  constructor(
    private readonly merchant: WxpayVirtualMerchant,
    private readonly fetchImpl: VirtualFetch,
    private readonly now: () => number,
  ) {}

  /** POSTs a signed /xpay/ call; its answer when errcode is 0, a PayError otherwise. */
  async xpay<T extends object>(uri: string, body: Record<string, unknown>, write: boolean): Promise<T> {
    const text = JSON.stringify(body);
    const paySig = apiPaySigOf(this.merchant.appKey, uri, text);
    for (let attempt = 0; ; attempt++) {
      const token = await this.accessToken(attempt > 0);
      const query = new URLSearchParams({ access_token: token, pay_sig: paySig });
      const answer = await this.post(`${uri}?${query}`, text, write);
      const errcode = Number(answer.errcode ?? 0);
      if (errcode === 0) return answer as T;
      if (STALE_TOKEN_CODES.has(errcode) && attempt === 0) continue;
      throw virtualApiError(uri, errcode, answer.errmsg);
    }
  }

  /** The cached access token, or a new one (one request at a time); `force` after a stale answer. */
  async accessToken(force = false): Promise<string> {
    if (!force && this.token && this.token.expiresAt > this.now()) return this.token.value;
    if (!this.pending) {
      this.pending = this.fetchToken(force).finally(() => {
        this.pending = null;
      });
    }
    return this.pending;
  }

  private async fetchToken(force: boolean): Promise<string> {
    const answer = await this.post(
      '/cgi-bin/stable_token',
      JSON.stringify({
        grant_type: 'client_credential',
        appid: this.merchant.appId,
        secret: this.merchant.appSecret,
        force_refresh: force,
      }),
      false,
    );
    const errcode = Number(answer.errcode ?? 0);
    if (errcode !== 0) throw virtualApiError('/cgi-bin/stable_token', errcode, answer.errmsg);
    const value = answer.access_token;
    const expiresIn = Number(answer.expires_in);
    if (typeof value !== 'string' || value === '' || !Number.isFinite(expiresIn))
      throw new PayError(50000, { message: 'WeChat stable_token answered no access_token' });
    this.token = { value, expiresAt: this.now() + Math.max(expiresIn * 1000 - TOKEN_MARGIN_MS, 0) };
    return value;
  }

  private async post(path: string, body: string, write: boolean): Promise<Record<string, unknown>> {
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.merchant.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(this.merchant.timeoutMs),
      });
    } catch (error) {
      throw new PayError(40004, {
        message: `WeChat ${path.split('?')[0]}: ${error instanceof Error ? error.message : String(error)}`,
        outcomeUnknown: write,
        cause: error,
      });
    }
    const text = await response.text().catch(() => '');
    if (response.status >= 500)
      throw new PayError(40010, {
        gatewayCode: `HTTP_${response.status}`,
        message: `WeChat ${path.split('?')[0]} answered HTTP ${response.status}`,
        outcomeUnknown: write,
      });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new PayError(50000, {
        gatewayCode: `HTTP_${response.status}`,
        message: `WeChat ${path.split('?')[0]} did not answer JSON`,
        outcomeUnknown: write,
      });
    return parsed as Record<string, unknown>;
  }
}
