/**
 * The one request sender for WeChat Pay APIv3: signs each attempt, sends it, verifies the answer
 * from its raw bytes and maps failures to PayError. It owns timeouts and retries (5xx, SYSTEM_ERROR,
 * 429, connections that never opened) with the same body, bounded exponential backoff and jitter.
 * A write that may have reached the gateway is never reported as failed: it is outcomeUnknown.
 */
import { type ErrorCode, PayError } from '../../core/errors.ts';
import { type FetchLike, type FetchResponseLike, neverSent, systemCodeOf } from '../network.ts';
import type { WxpayMerchant } from './config.ts';
import { gatewayError, isRetryableFailure, type WxpayErrorBody } from './errors.ts';
import { authorizationHeader, createNonce } from './sign.ts';
import { type HeaderLookup, type KeyLookup, verifySignedMessage } from './verifier.ts';

export type { FetchLike, FetchResponseLike };

export interface WxpayCall {
  /** Operation name for logs and errors: 'prepay.jsapi', 'query', 'refund'... */
  api: string;
  method: 'GET' | 'POST';
  /** Path and query as sent, e.g. /v3/pay/transactions/out-trade-no/T1?mchid=1900000001 */
  path: string;
  body?: unknown;
  /** Whether the call changes state at the gateway (prepay, close, refund). */
  write: boolean;
  /** The key that encrypted sensitive fields of the body: sent as Wechatpay-Serial instead of the preferred one. */
  serial?: string;
  /** A file download (a bill): the body is returned as bytes, not parsed as JSON. */
  file?: boolean;
}

export interface WxpayReply<T> {
  status: number;
  /** Parsed JSON, or null for an empty body (204). */
  data: T | null;
  raw: Buffer;
  requestId: string | null;
  header: HeaderLookup;
}

/** One attempt, for payment_logs and metrics: never carries bodies or secrets. */
export interface WxpayRequestEvent {
  merchantId: string;
  api: string;
  method: string;
  path: string;
  attempt: number;
  httpStatus: number | null;
  ms: number;
  requestId: string | null;
  errorCode: ErrorCode | null;
  gatewayCode: string | null;
}

export interface VerifierKeys {
  keyFor: KeyLookup;
  preferredSerial(): string | null;
}

export interface TransportOptions {
  merchant: WxpayMerchant;
  keys: VerifierKeys;
  fetch: FetchLike;
  dispatcher?: unknown;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  onRequest?: (event: WxpayRequestEvent) => void;
  userAgent: string;
}

function networkError(error: unknown, call: WxpayCall, timedOut: boolean): PayError & { retry: boolean } {
  const systemCode = systemCodeOf(error);
  const notSent = neverSent(systemCode);
  const payError = new PayError(40004, {
    message: `wxpay ${call.api}: ${timedOut ? 'timed out' : `network failure${systemCode ? ` (${systemCode})` : ''}`}`,
    details: { provider: 'wxpay', api: call.api, reason: timedOut ? 'timeout' : (systemCode ?? 'network') },
    cause: error,
    // A write that left this process may have been applied: the caller must query, not fail it.
    outcomeUnknown: call.write && !notSent,
  });
  return Object.assign(payError, { retry: notSent || !call.write });
}

function parseJson(raw: Buffer): unknown {
  if (raw.length === 0) return null;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

export class WxpayTransport {
  readonly #options: TransportOptions;

  constructor(options: TransportOptions) {
    this.#options = options;
  }

  /** Sends with retries; verifies a 2xx answer unless `verify` is false (certificate download only). */
  async call<T>(call: WxpayCall, verify = true): Promise<WxpayReply<T>> {
    const { retry } = this.#options.merchant;
    const body = call.body === undefined ? '' : JSON.stringify(call.body);
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#attempt<T>(call, body, attempt, verify);
      } catch (error) {
        const retryable = (error as { retry?: boolean }).retry === true;
        if (!retryable || attempt >= retry.maxAttempts) throw error;
        const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
        // Equal jitter: at least half the backoff, so retries from many instances spread out.
        await this.#options.sleep(ceiling / 2 + this.#options.random() * (ceiling / 2));
      }
    }
  }

  async #attempt<T>(call: WxpayCall, body: string, attempt: number, verify: boolean): Promise<WxpayReply<T>> {
    const { merchant } = this.#options;
    const url = new URL(merchant.baseUrl + call.path);
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'User-Agent': this.#options.userAgent,
      Authorization: authorizationHeader({
        mchId: merchant.mchId,
        serialNo: merchant.serialNo,
        privateKey: merchant.privateKey,
        method: call.method,
        canonicalUrl: url.pathname + url.search,
        body,
        timestamp: String(Math.floor(this.#options.now() / 1000)),
        nonce: createNonce(),
      }),
    };
    if (body !== '') headers['Content-Type'] = 'application/json';
    const serial = call.serial ?? this.#options.keys.preferredSerial();
    if (serial) headers['Wechatpay-Serial'] = serial;

    const started = performance.now();
    let status: number | null = null;
    let requestId: string | null = null;
    const signal = AbortSignal.timeout(merchant.timeoutMs);
    try {
      let response: FetchResponseLike;
      let raw: Buffer;
      try {
        response = await this.#options.fetch(url.toString(), {
          method: call.method,
          headers,
          ...(body !== '' ? { body } : {}),
          signal,
          redirect: 'error',
          ...(this.#options.dispatcher ? { dispatcher: this.#options.dispatcher } : {}),
        });
        status = response.status;
        requestId = response.headers.get('request-id');
        raw = Buffer.from(await response.arrayBuffer());
      } catch (error) {
        throw networkError(error, call, signal.aborted);
      }
      const header: HeaderLookup = (name) => response.headers.get(name) ?? undefined;
      const reply = await this.#interpret<T>(call, status, raw, header, requestId, verify);
      this.#emit(call, attempt, started, status, requestId, null);
      return reply;
    } catch (error) {
      const payError = error instanceof PayError ? error : null;
      this.#emit(call, attempt, started, status, requestId, payError);
      throw error;
    }
  }

  async #interpret<T>(
    call: WxpayCall,
    status: number,
    raw: Buffer,
    header: HeaderLookup,
    requestId: string | null,
    verify: boolean,
  ): Promise<WxpayReply<T>> {
    const ok = status >= 200 && status < 300;
    // Gateway 5xx answers are retried anyway; a signed 4xx is checked so that a forged
    // ORDER_NOT_EXIST cannot steer the caller. Unsigned 4xx/5xx (a proxy) are errors only.
    const signed = header('wechatpay-signature') !== undefined;
    if (verify && (ok || (signed && status < 500))) {
      try {
        await verifySignedMessage({
          header,
          rawBody: raw,
          nowMs: this.#options.now(),
          lookupKey: (serial) => this.#options.keys.keyFor(serial),
          what: `${call.api} response`,
        });
      } catch (error) {
        throw this.#unknownIfWrite(error, call, ok);
      }
    }
    if (ok && call.file) return { status, data: null, raw, requestId, header };
    const parsed = parseJson(raw);
    if (!ok) {
      const errorBody = parsed && typeof parsed === 'object' ? (parsed as WxpayErrorBody) : null;
      const payError = gatewayError(status, errorBody, { api: call.api, requestId, write: call.write });
      const retry = isRetryableFailure(payError.gatewayCode, status);
      throw Object.assign(payError, { retry });
    }
    if (parsed === undefined) {
      throw new PayError(50000, {
        message: `wxpay ${call.api}: the gateway answered ${status} with a body that is not JSON`,
        details: { provider: 'wxpay', httpStatus: status, requestId },
        outcomeUnknown: call.write,
      });
    }
    return { status, data: parsed as T | null, raw, requestId, header };
  }

  /** A 2xx write whose answer cannot be trusted may still have been applied. */
  #unknownIfWrite(error: unknown, call: WxpayCall, ok: boolean): unknown {
    if (!(error instanceof PayError) || !call.write || !ok) return error;
    return new PayError(error.code, {
      message: error.message,
      ...(error.field ? { field: error.field } : {}),
      details: error.details,
      cause: error,
      outcomeUnknown: true,
    });
  }

  #emit(
    call: WxpayCall,
    attempt: number,
    started: number,
    httpStatus: number | null,
    requestId: string | null,
    error: PayError | null,
  ): void {
    this.#options.onRequest?.({
      merchantId: this.#options.merchant.merchantId,
      api: call.api,
      method: call.method,
      path: call.path,
      attempt,
      httpStatus,
      ms: Math.round(performance.now() - started),
      requestId,
      errorCode: error?.code ?? null,
      gatewayCode: error?.gatewayCode ?? null,
    });
  }
}
