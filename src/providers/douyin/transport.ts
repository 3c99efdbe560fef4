/**
 * The one request sender for Douyin. Trade-system calls carry the cached client_token
 * (`access-token`) and the app's SHA256-RSA2048 signature (`Byte-Authorization`); an answer signed
 * by the platform (Byte-Timestamp / Byte-Nonce-Str / Byte-Signature) is verified before it is read.
 * Legacy calls carry the salted MD5 `sign` in their JSON body. Failures become PayErrors; a write
 * that may have reached the gateway is reported outcomeUnknown, never failed.
 */
import { randomBytes } from 'node:crypto';
import { PayError } from '../../core/errors.ts';
import { type FetchLike, neverSent, systemCodeOf } from '../network.ts';
import type { DouyinMerchant, EcpayMerchant, TradeMerchant } from './config.ts';
import { gatewayError, isRetryable, TOKEN_ERRORS } from './errors.ts';
import { ecpaySign, platformSigningString, rsaVerify, signedAuthorization } from './sign.ts';

export type { FetchLike };

/** Where the client_token comes from, relative to the trade base URL. */
export const CLIENT_TOKEN_PATH = '/oauth/client_token/';

/** One attempt, for logs and metrics: never bodies or secrets. */
export interface DouyinRequestEvent {
  merchantId: string;
  api: string;
  httpStatus: number | null;
  ms: number;
  logId: string | null;
  gatewayCode: string | null;
}

export interface TransportOptions {
  merchant: DouyinMerchant;
  fetch: FetchLike;
  now: () => number;
  onRequest?: (event: DouyinRequestEvent) => void;
}

export interface DouyinCall {
  api: string;
  path: string;
  body: Record<string, unknown>;
  write: boolean;
}

interface Answer {
  status: number;
  text: string;
  header: (name: string) => string | null;
}

function uriOf(baseUrl: string, path: string): string {
  const url = new URL(`${baseUrl}${path}`);
  return `${url.pathname}${url.search}`;
}

/** A client_token is renewed this long before the platform says it expires. */
const TOKEN_MARGIN_MS = 5 * 60_000;

export class DouyinTransport {
  readonly #options: TransportOptions;
  #token: { value: string; expiresAt: number } | null = null;
  #tokenPending: Promise<string> | null = null;

  constructor(options: TransportOptions) {
    this.#options = options;
  }

  get merchant(): DouyinMerchant {
    return this.#options.merchant;
  }

  /** A trade-system call: `data` of a zero err_no answer; a stale token is renewed once. */
  async trade<T>(call: DouyinCall): Promise<T> {
    const merchant = this.#options.merchant as TradeMerchant;
    for (let attempt = 1; ; attempt += 1) {
      const token = await this.accessToken();
      const body = JSON.stringify(call.body);
      const timestamp = String(Math.floor(this.#options.now() / 1000));
      const nonce = randomBytes(16).toString('hex');
      const answer = await this.#send(call, body, {
        'access-token': token,
        // The URI signed is the path the request goes to, base URL path included.
        'Byte-Authorization': signedAuthorization(
          merchant,
          uriOf(merchant.baseUrl, call.path),
          body,
          timestamp,
          nonce,
        ),
      });
      this.#verifyAnswer(call, answer);
      const parsed = this.#json(call, answer);
      const errNo = Number(parsed.err_no ?? 0);
      if (answer.status === 200 && errNo === 0) return (parsed.data ?? {}) as T;
      if (TOKEN_ERRORS.has(errNo) && attempt === 1) {
        this.#token = null;
        continue;
      }
      const retry = !call.write && attempt === 1 && isRetryable(errNo, answer.status);
      if (retry) continue;
      throw gatewayError(errNo, String(parsed.err_msg ?? ''), {
        api: call.api,
        httpStatus: answer.status,
        logId: answer.header('x-tt-logid') ?? (parsed.log_id as string | undefined) ?? null,
        write: call.write,
      });
    }
  }

  /** A legacy call: the whole answer of a zero err_no. */
  async ecpay<T>(call: DouyinCall): Promise<T> {
    const merchant = this.#options.merchant as EcpayMerchant;
    const params = { app_id: merchant.appId, ...call.body };
    const body = JSON.stringify({ ...params, sign: ecpaySign(params, merchant.salt) });
    const answer = await this.#send(call, body, {});
    const parsed = this.#json(call, answer);
    const errNo = Number(parsed.err_no ?? 0);
    if (answer.status === 200 && errNo === 0) return parsed as T;
    throw gatewayError(errNo, String(parsed.err_tips ?? ''), {
      api: call.api,
      httpStatus: answer.status,
      logId: answer.header('x-tt-logid'),
      write: call.write,
    });
  }

  /** The app's client_token, fetched once and shared until shortly before it expires. */
  async accessToken(): Promise<string> {
    const cached = this.#token;
    if (cached && cached.expiresAt > this.#options.now()) return cached.value;
    this.#tokenPending ??= this.#fetchToken().finally(() => {
      this.#tokenPending = null;
    });
    return this.#tokenPending;
  }

  async #fetchToken(): Promise<string> {
    const merchant = this.#options.merchant as TradeMerchant;
    const call: DouyinCall = { api: 'client_token', path: CLIENT_TOKEN_PATH, body: {}, write: false };
    const answer = await this.#send(
      call,
      JSON.stringify({
        client_key: merchant.appId,
        client_secret: merchant.appSecret,
        grant_type: 'client_credential',
      }),
      {},
    );
    const parsed = this.#json(call, answer);
    const data = (parsed.data ?? {}) as {
      access_token?: unknown;
      expires_in?: unknown;
      error_code?: unknown;
    };
    const errorCode = Number(data.error_code ?? 0);
    if (answer.status !== 200 || errorCode !== 0 || typeof data.access_token !== 'string') {
      throw gatewayError(errorCode, String((data as { description?: unknown }).description ?? ''), {
        api: call.api,
        httpStatus: answer.status,
        logId: answer.header('x-tt-logid'),
        write: false,
      });
    }
    const expiresInMs = Number(data.expires_in ?? 7200) * 1000;
    this.#token = {
      value: data.access_token,
      expiresAt: this.#options.now() + Math.max(0, expiresInMs - TOKEN_MARGIN_MS),
    };
    return data.access_token;
  }

  #verifyAnswer(call: DouyinCall, answer: Answer): void {
    const signature = answer.header('byte-signature');
    // Answers that carry a platform signature must verify; an unsigned one is read as it is.
    if (!signature) return;
    const merchant = this.#options.merchant as TradeMerchant;
    const text = platformSigningString(
      answer.header('byte-timestamp') ?? '',
      answer.header('byte-nonce-str') ?? '',
      answer.text,
    );
    if (!rsaVerify(merchant.platformPublicKey, text, signature)) {
      throw new PayError(40002, {
        message: `douyin ${call.api}: the answer's Byte-Signature does not verify with the platform public key`,
        details: { provider: 'douyin', httpStatus: answer.status },
        outcomeUnknown: call.write,
      });
    }
  }

  #json(call: DouyinCall, answer: Answer): Record<string, unknown> {
    try {
      const value = JSON.parse(answer.text) as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value))
        return value as Record<string, unknown>;
    } catch {
      // reported below
    }
    if (answer.status >= 500 || answer.status === 429)
      throw gatewayError(0, undefined, {
        api: call.api,
        httpStatus: answer.status,
        logId: answer.header('x-tt-logid'),
        write: call.write,
      });
    throw new PayError(call.write ? 40004 : 50000, {
      message: `douyin ${call.api}: the answer (HTTP ${answer.status}) is not a JSON object`,
      details: { provider: 'douyin', httpStatus: answer.status },
      outcomeUnknown: call.write,
    });
  }

  async #send(call: DouyinCall, body: string, headers: Record<string, string>): Promise<Answer> {
    const { merchant, fetch, onRequest } = this.#options;
    const started = performance.now();
    let status: number | null = null;
    let logId: string | null = null;
    let gatewayCode: string | null = null;
    try {
      const response = await fetch(`${merchant.baseUrl}${call.path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
        body,
        signal: AbortSignal.timeout(merchant.timeoutMs),
        redirect: 'error',
      });
      status = response.status;
      logId = response.headers.get('x-tt-logid');
      const text = Buffer.from(await response.arrayBuffer()).toString('utf8');
      return { status: response.status, text, header: (name) => response.headers.get(name) };
    } catch (error) {
      const systemCode = systemCodeOf(error);
      const timedOut = (error as { name?: string }).name === 'TimeoutError';
      gatewayCode = timedOut ? 'timeout' : (systemCode ?? 'network');
      throw new PayError(40004, {
        message: `douyin ${call.api}: ${timedOut ? 'timed out' : `network failure (${gatewayCode})`}`,
        details: { provider: 'douyin', api: call.api, reason: gatewayCode },
        cause: error,
        outcomeUnknown: call.write && (timedOut || !neverSent(systemCode)),
      });
    } finally {
      onRequest?.({
        merchantId: merchant.merchantId,
        api: call.api,
        httpStatus: status,
        ms: Math.round(performance.now() - started),
        logId,
        gatewayCode,
      });
    }
  }
}
