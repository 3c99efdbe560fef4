/**
 * The one request sender for WeChat Pay APIv2: adds mch_id, nonce_str, sign_type and sign, posts
 * the XML, checks return_code, verifies the answer's sign with the API key, then result_code.
 * /secapi calls go over mutual TLS with the merchant's API client certificate. Retries (5xx,
 * SYSTEMERROR, connections never opened) resend the same bytes; a write that may have reached
 * the gateway is never reported as failed: it is outcomeUnknown.
 */
import { rootCertificates } from 'node:tls';
import { Agent } from 'undici';
import { type ErrorCode, PayError } from '../../../core/errors.ts';
import { type FetchLike, type FetchResponseLike, neverSent, systemCodeOf } from '../../network.ts';
import type { WxpayRequestEvent } from '../transport.ts';
import type { WxpayV2Merchant } from './config.ts';
import { isRetryableV2, returnFailCode, unifiedV2Code } from './errors.ts';
import { nonceStr, signV2, verifyV2 } from './sign.ts';
import { buildXml, parseXml, type XmlFields } from './xml.ts';

export interface V2Call {
  api: string;
  path: string;
  /** The operation's fields; appid is the operation's, mch_id, nonce_str, sign_type and sign are added. */
  fields: Record<string, string | number | undefined>;
  write: boolean;
  /** A /secapi call: sent with the merchant's client certificate. */
  secure?: boolean;
  /** A file download (a bill): a body that is not XML is the file, returned as text. */
  file?: boolean;
  /**
   * Sent once, never resent on SYSTEMERROR, BANKERROR or 5xx (a micropay with the buyer's
   * single-use code): the outcome is settled by query and reverse, as WeChat asks.
   */
  once?: boolean;
  /** err_codes that are an answer rather than a failure (micropay's USERPAYING): returned as fields. */
  answers?: readonly string[];
}

export interface V2TransportOptions {
  merchant: WxpayV2Merchant;
  fetch: FetchLike;
  /** A dispatcher for calls without the client certificate (tests, proxies). */
  dispatcher?: unknown;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  onRequest?: (event: WxpayRequestEvent) => void;
  userAgent: string;
}

type Retryable = PayError & { retry?: boolean };

function failure(
  code: ErrorCode,
  call: V2Call,
  message: string,
  extra: Record<string, unknown> = {},
): Retryable {
  return new PayError(code, {
    message: `wxpay v2 ${call.api}: ${message}`,
    details: { provider: 'wxpay', api: call.api, apiVersion: 'v2' },
    ...extra,
  });
}

export class WxpayV2Transport {
  readonly #options: V2TransportOptions;
  #plain: unknown;
  #secure: Agent | null = null;

  constructor(options: V2TransportOptions) {
    this.#options = options;
    const ca = options.merchant.gatewayCaPems;
    this.#plain =
      options.dispatcher ??
      (ca.length > 0 ? new Agent({ connect: { ca: [...rootCertificates, ...ca] } }) : undefined);
  }

  #secureAgent(call: V2Call): Agent {
    const { clientCertificate, gatewayCaPems } = this.#options.merchant;
    if (!clientCertificate) {
      throw failure(40003, call, 'this account has no clientCertificate, which refunds need', {
        field: 'clientCertificate',
      });
    }
    this.#secure ??= new Agent({
      connect: {
        cert: clientCertificate.cert,
        key: clientCertificate.key,
        ...(gatewayCaPems.length > 0 ? { ca: [...rootCertificates, ...gatewayCaPems] } : {}),
      },
    });
    return this.#secure;
  }

  async close(): Promise<void> {
    await this.#secure?.close();
  }

  /** Sends with retries; the verified fields of a SUCCESS/SUCCESS answer. */
  async call(call: V2Call): Promise<XmlFields> {
    return (await this.#send({ ...call, file: false })) as XmlFields;
  }

  /**
   * A download: the file's text, or null when the gateway says there is none ("No Bill Exist").
   * The file itself is unsigned, as the gateway sends it; errors come as XML and are mapped as usual.
   */
  async download(call: V2Call): Promise<string | null> {
    try {
      const answer = await this.#send({ ...call, file: true });
      return typeof answer === 'string' ? answer : null;
    } catch (error) {
      if (error instanceof PayError && /No Bill Exist/i.test(error.message)) return null;
      throw error;
    }
  }

  async #send(call: V2Call): Promise<XmlFields | string> {
    const { merchant } = this.#options;
    const fields: Record<string, string | number | undefined> = {
      ...call.fields,
      mch_id: merchant.mchId,
      nonce_str: nonceStr(),
      sign_type: merchant.signType,
    };
    const body = buildXml({ ...fields, sign: signV2(fields, merchant.apiKey, merchant.signType) });
    const dispatcher = call.secure ? this.#secureAgent(call) : this.#plain;
    const { retry } = merchant;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#attempt(call, body, attempt, dispatcher);
      } catch (error) {
        if ((error as Retryable).retry !== true || call.once || attempt >= retry.maxAttempts) throw error;
        const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
        await this.#options.sleep(ceiling / 2 + this.#options.random() * (ceiling / 2));
      }
    }
  }

  async #attempt(
    call: V2Call,
    body: string,
    attempt: number,
    dispatcher: unknown,
  ): Promise<XmlFields | string> {
    const { merchant } = this.#options;
    const started = performance.now();
    let status: number | null = null;
    try {
      const signal = AbortSignal.timeout(merchant.timeoutMs);
      let response: FetchResponseLike;
      let raw: Buffer;
      try {
        response = await this.#options.fetch(merchant.baseUrl + call.path, {
          method: 'POST',
          headers: {
            'Content-Type': 'text/xml; charset=utf-8',
            Accept: 'text/xml',
            'User-Agent': this.#options.userAgent,
          },
          body,
          signal,
          redirect: 'error',
          ...(dispatcher ? { dispatcher } : {}),
        });
        status = response.status;
        raw = Buffer.from(await response.arrayBuffer());
      } catch (error) {
        const systemCode = systemCodeOf(error);
        const notSent = neverSent(systemCode);
        // A refused client certificate ends the handshake: the gateway never saw the request.
        const tls = /CERT|TLS|SSL|HANDSHAKE|ERR_SSL/i.test(systemCode ?? '');
        throw Object.assign(
          failure(
            tls ? 40003 : 40004,
            call,
            signal.aborted ? 'timed out' : `network failure${systemCode ? ` (${systemCode})` : ''}`,
            {
              cause: error,
              outcomeUnknown: call.write && !notSent && !tls,
              ...(tls ? { gatewayCode: 'CA_ERROR' } : {}),
            },
          ),
          { retry: !tls && (notSent || !call.write) },
        );
      }
      const fields = this.#interpret(call, status, raw);
      this.#emit(call, attempt, started, status, null);
      return fields;
    } catch (error) {
      this.#emit(call, attempt, started, status, error instanceof PayError ? error : null);
      throw error;
    }
  }

  #interpret(call: V2Call, status: number, raw: Buffer): XmlFields | string {
    const { merchant } = this.#options;
    if (status >= 500)
      throw Object.assign(failure(40010, call, `HTTP ${status}`, { outcomeUnknown: call.write }), {
        retry: true,
      });
    // A download's file is text, not XML: only an error comes as <xml>.
    if (call.file && status === 200 && !/^\s*<xml>/.test(raw.subarray(0, 64).toString('utf8')))
      return raw.toString('utf8');
    let fields: XmlFields;
    try {
      fields = parseXml(raw);
    } catch {
      throw failure(50000, call, `the gateway answered HTTP ${status} with a body that is not v2 XML`, {
        gatewayCode: 'MALFORMED_RESPONSE',
        outcomeUnknown: call.write,
      });
    }
    if (fields.return_code !== 'SUCCESS') {
      const { code, gatewayCode } = returnFailCode(fields.return_msg);
      throw failure(
        code,
        call,
        `return_code ${fields.return_code ?? 'missing'}: ${(fields.return_msg ?? '').slice(0, 128)}`,
        {
          gatewayCode,
        },
      );
    }
    // An unsigned or wrongly signed answer cannot steer us; a write it answered may have happened.
    if (!verifyV2(fields, merchant.apiKey, merchant.signType)) {
      throw failure(40002, call, 'the answer does not carry a valid sign', {
        gatewayCode: 'RESPONSE_SIGN_INVALID',
        outcomeUnknown: call.write,
      });
    }
    if (fields.mch_id !== undefined && fields.mch_id !== merchant.mchId) {
      throw failure(50000, call, `the answer is for mch_id ${fields.mch_id.slice(0, 32)}`, {
        gatewayCode: 'MCHID_MISMATCH',
        outcomeUnknown: call.write,
      });
    }
    if (fields.result_code !== 'SUCCESS' && !(fields.err_code && call.answers?.includes(fields.err_code))) {
      const errCode = fields.err_code;
      const retry = isRetryableV2(errCode);
      throw Object.assign(
        failure(
          unifiedV2Code(errCode),
          call,
          `${errCode ?? 'result_code FAIL'} ${(fields.err_code_des ?? '').slice(0, 128)}`.trim(),
          {
            gatewayCode: errCode ?? 'FAIL',
            outcomeUnknown: call.write && retry,
          },
        ),
        { retry },
      );
    }
    return fields;
  }

  #emit(
    call: V2Call,
    attempt: number,
    started: number,
    httpStatus: number | null,
    error: PayError | null,
  ): void {
    this.#options.onRequest?.({
      merchantId: this.#options.merchant.merchantId,
      api: call.api,
      method: 'POST',
      path: call.path,
      attempt,
      httpStatus,
      ms: Math.round(performance.now() - started),
      requestId: null,
      errorCode: error?.code ?? null,
      gatewayCode: error?.gatewayCode ?? null,
    });
  }
}
