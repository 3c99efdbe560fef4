/**
 * The one request sender for the Alipay gateway: signs a call once, sends it, verifies the answer
 * over the exact bytes of its `<method>_response`, and maps failures to PayError. It owns timeouts
 * and retries: system errors (20000, isp.unknow-error, ACQ.SYSTEM_ERROR) and 5xx are sent again with
 * the same signed parameters (Alipay's own advice), after a bounded backoff with jitter. A write that
 * may have reached the gateway is never reported as failed: it is outcomeUnknown.
 */
import { type ErrorCode, PayError } from '../../core/errors.ts';
import { type FetchLike, type FetchResponseLike, neverSent, systemCodeOf } from '../network.ts';
import type { AlipayMerchant } from './config.ts';
import { type Envelope, MalformedEnvelope, readEnvelope } from './envelope.ts';
import { gatewayError, isRetryableCode, PENDING_CODE, SUCCESS_CODE } from './errors.ts';
import { postRequest, signedParams } from './request.ts';
import { verifyRsa2 } from './sign.ts';

export type { FetchLike, FetchResponseLike };

export interface AlipayCall {
  /** The gateway method, e.g. 'alipay.trade.query'. */
  method: string;
  bizContent: Record<string, unknown>;
  /** Whether the call changes state at the gateway (create, precreate, refund, close, cancel). */
  write: boolean;
  notifyUrl?: string | null;
  /**
   * Sent once, never resent on a system error (alipay.trade.pay with a payment code): its outcome
   * is settled by query and trade.cancel, as Alipay asks for bar-code payments.
   */
  once?: boolean;
  /**
   * Certificate download only: the answer's signature is not checked (it may be made with the very
   * key being fetched); the certificate it carries is trusted only through the root's signature.
   */
  unverified?: boolean;
}

/** The method that fetches a renewed Alipay public-key certificate by its SN. */
export const CERT_DOWNLOAD_METHOD = 'alipay.open.app.alipaycert.download';

export interface AlipayReply {
  /** '10000' (done) or '10003' (waiting for the buyer). */
  code: string;
  /** The verified `<method>_response` object. */
  response: Record<string, unknown>;
  traceId: string | null;
}

/** One attempt, for payment_logs and metrics: never carries parameters, bodies or secrets. */
export interface AlipayRequestEvent {
  merchantId: string;
  method: string;
  attempt: number;
  httpStatus: number | null;
  ms: number;
  traceId: string | null;
  errorCode: ErrorCode | null;
  gatewayCode: string | null;
}

export interface TransportOptions {
  merchant: AlipayMerchant;
  fetch: FetchLike;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  onRequest?: (event: AlipayRequestEvent) => void;
}

type Retryable = PayError & { retry?: boolean };

function networkError(error: unknown, call: AlipayCall, timedOut: boolean): Retryable {
  const systemCode = systemCodeOf(error);
  const notSent = !timedOut && neverSent(systemCode);
  const reason = timedOut ? 'timeout' : (systemCode ?? 'network');
  const payError = new PayError(40004, {
    message: `alipay ${call.method}: ${timedOut ? 'timed out' : `network failure (${reason})`}`,
    details: { provider: 'alipay', method: call.method, reason },
    cause: error,
    // A write that left this process may have been applied: the caller must query, not fail it.
    outcomeUnknown: call.write && !notSent,
  });
  return Object.assign(payError, { retry: notSent || !call.write });
}

function withRetry(error: PayError, retry: boolean): Retryable {
  return Object.assign(error, { retry });
}

export class AlipayTransport {
  readonly #options: TransportOptions;

  constructor(options: TransportOptions) {
    this.#options = options;
  }

  get merchant(): AlipayMerchant {
    return this.#options.merchant;
  }

  async call(call: AlipayCall): Promise<AlipayReply> {
    const { merchant, now } = this.#options;
    // Signed once: a retry is the same request, timestamp included, so the gateway can dedupe it.
    const params = signedParams(merchant, call.method, call.bizContent, { notifyUrl: call.notifyUrl }, now());
    const request = postRequest(merchant.gatewayUrl, params);
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#attempt(call, request, attempt);
      } catch (error) {
        const retry = (error as Retryable).retry === true && !call.once;
        if (!retry || attempt >= merchant.retry.maxAttempts) throw error;
        const ceiling = Math.min(merchant.retry.maxDelayMs, merchant.retry.baseDelayMs * 2 ** (attempt - 1));
        // Equal jitter: at least half the backoff, so retries from many instances spread out.
        await this.#options.sleep(ceiling / 2 + this.#options.random() * (ceiling / 2));
      }
    }
  }

  async #attempt(call: AlipayCall, request: { url: string; body: string }, attempt: number) {
    const started = performance.now();
    let status: number | null = null;
    let traceId: string | null = null;
    try {
      const signal = AbortSignal.timeout(this.#options.merchant.timeoutMs);
      let raw: Buffer;
      try {
        const response = await this.#options.fetch(request.url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/x-www-form-urlencoded;charset=utf-8',
            Accept: 'application/json',
          },
          body: request.body,
          signal,
          redirect: 'error',
        });
        status = response.status;
        traceId = response.headers.get('trace_id') ?? response.headers.get('alipay-trace-id');
        raw = Buffer.from(await response.arrayBuffer());
      } catch (error) {
        throw networkError(error, call, signal.aborted);
      }
      const reply = await this.#interpret(call, status, raw, traceId);
      this.#emit(call, attempt, started, status, traceId, null);
      return reply;
    } catch (error) {
      this.#emit(call, attempt, started, status, traceId, error instanceof PayError ? error : null);
      throw error;
    }
  }

  async #interpret(
    call: AlipayCall,
    status: number,
    raw: Buffer,
    traceId: string | null,
  ): Promise<AlipayReply> {
    const details = { provider: 'alipay', method: call.method, httpStatus: status, traceId };
    if (status < 200 || status >= 300) {
      const server = status >= 500;
      throw withRetry(
        new PayError(server ? 40010 : 50000, {
          gatewayCode: `HTTP_${status}`,
          message: `alipay ${call.method}: the gateway answered HTTP ${status}`,
          details,
          outcomeUnknown: call.write && server,
        }),
        server,
      );
    }
    let envelope: Envelope;
    try {
      envelope = readEnvelope(raw, call.method);
    } catch (error) {
      if (!(error instanceof MalformedEnvelope)) throw error;
      // A cut or garbled body is a transport failure (part E rule 3): what happened is unknown.
      throw withRetry(
        new PayError(40004, {
          gatewayCode: 'MALFORMED_RESPONSE',
          message: `alipay ${call.method}: unreadable answer (${error.message})`,
          details,
          outcomeUnknown: call.write,
        }),
        !call.write,
      );
    }
    if (!call.unverified) await this.#verify(call, envelope, details);
    const code = envelope.response.code;
    if (typeof code !== 'string') {
      throw new PayError(50000, {
        gatewayCode: 'MALFORMED_RESPONSE',
        message: `alipay ${call.method}: the answer has no code`,
        details,
        outcomeUnknown: call.write,
      });
    }
    if (code === SUCCESS_CODE || code === PENDING_CODE) return { code, response: envelope.response, traceId };
    const failure = gatewayError(
      { ...envelope.response, code },
      { method: call.method, write: call.write, traceId },
    );
    throw withRetry(failure, isRetryableCode(failure.code));
  }

  /**
   * Signature and certificate checks; a failed check on a write leaves its outcome unknown. In
   * certificate mode an answer under a renewed certificate has it downloaded and checked first.
   */
  async #verify(call: AlipayCall, envelope: Envelope, details: Record<string, unknown>): Promise<void> {
    const { merchant } = this.#options;
    const fail = (code: 40002 | 40003, message: string, field: string, extra: object = {}) =>
      new PayError(code, {
        field,
        message: `alipay ${call.method}: ${message}`,
        details: { ...details, ...extra },
        outcomeUnknown: call.write,
      });
    let key = merchant.alipayPublicKey;
    if (merchant.keyring && envelope.alipayCertSn !== null) {
      const sn = envelope.alipayCertSn;
      try {
        key =
          merchant.keyring.keyFor(sn) ??
          (await merchant.keyring.learn(sn, (wanted) => this.#download(wanted)));
      } catch (error) {
        throw fail(
          40003,
          `the answer is signed under alipay_cert_sn ${sn.slice(0, 64)}, which could not be trusted (${(error as Error).message})`,
          'alipay_cert_sn',
          { alipayCertSn: sn.slice(0, 64) },
        );
      }
    }
    if (envelope.sign === null) {
      // Kept for debugging only, marked unverified: nothing here can be trusted.
      const { code, sub_code } = envelope.response;
      throw fail(40002, 'the answer carries no sign', 'sign', {
        unverified: { code: String(code ?? '').slice(0, 16), subCode: String(sub_code ?? '').slice(0, 64) },
      });
    }
    if (!verifyRsa2(key, envelope.signedContent, envelope.sign)) {
      throw fail(40002, `the signature of ${envelope.responseKey} does not verify`, 'sign');
    }
  }

  /** A renewed Alipay certificate by SN, as PEM (the keyring decides whether to trust it). */
  async #download(sn: string): Promise<string> {
    const reply = await this.call({
      method: CERT_DOWNLOAD_METHOD,
      bizContent: { alipay_cert_sn: sn },
      write: false,
      unverified: true,
    });
    const content = reply.response.alipay_cert_content;
    if (typeof content !== 'string' || content.length === 0)
      throw new Error('the download answer carries no alipay_cert_content');
    return Buffer.from(content, 'base64').toString('utf8');
  }

  #emit(
    call: AlipayCall,
    attempt: number,
    started: number,
    httpStatus: number | null,
    traceId: string | null,
    error: PayError | null,
  ): void {
    this.#options.onRequest?.({
      merchantId: this.#options.merchant.merchantId,
      method: call.method,
      attempt,
      httpStatus,
      ms: Math.round(performance.now() - started),
      traceId,
      errorCode: error?.code ?? null,
      gatewayCode: error?.gatewayCode ?? null,
    });
  }
}
