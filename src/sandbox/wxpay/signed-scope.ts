/**
 * The APIv3 transport of the emulator, shared by every endpoint: keep the raw body, verify the
 * Authorization header, apply API faults, answer errors in WeChat's shape and sign every response.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiFaultKind, ApiOperation, FaultTarget } from './faults.ts';
import type { WxpayGateway } from './gateway.ts';
import {
  gatewaySignatureHeaders,
  SIGNATURE_FAULT_KINDS,
  type SignatureFaultKind,
} from './gateway-signature.ts';
import type { Merchant } from './merchants.ts';
import { authenticateRequest, parseAuthorization } from './request-auth.ts';
import { randomHexUpper } from './runtime.ts';
import { invalidField, WxpayWireError } from './wire-errors.ts';

/** What an endpoint answers: a status and a JSON body (none for 204). */
export interface WireReply {
  status: number;
  body?: unknown;
  /** A file (a bill) sent as plain text instead of JSON. */
  text?: string;
}

export interface SignedRequestContext {
  merchant: Merchant;
  body: Record<string, unknown>;
  rawBody: string;
}

interface RequestState {
  requestId: string;
  merchant?: Merchant;
  target?: FaultTarget;
  /** A proxy-style 502 carries no WeChat signature. */
  unsigned?: boolean;
}

const states = new WeakMap<FastifyRequest, RequestState>();

/** Created by the onRequest hook of the scope, so every later hook and handler finds it. */
function stateOf(request: FastifyRequest): RequestState {
  const state = states.get(request);
  if (!state)
    throw new Error('wxpay sandbox: request state missing; was the route registered in the signed scope?');
  return state;
}

const GATE_FAULTS = ['frequencyLimited', 'notEnough', 'systemError', 'badGateway', 'delay', 'hang'] as const;
type GateFaultKind = (typeof GATE_FAULTS)[number] & ApiFaultKind;

const BAD_GATEWAY_HTML =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n';

/** Installs the raw-body parser, error shape and response signing on an encapsulated scope. */
export function installSignedTransport(scope: FastifyInstance, gateway: WxpayGateway): void {
  scope.removeAllContentTypeParsers();
  // Signatures cover exact bytes, so the body stays a string until the signature is checked.
  scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  scope.addHook('onRequest', async (request) => {
    states.set(request, { requestId: randomHexUpper(gateway.runtime.random, 32) });
  });

  scope.setErrorHandler((error, request, reply) => {
    const wire =
      error instanceof WxpayWireError
        ? error
        : (error as { statusCode?: number }).statusCode && (error as { statusCode: number }).statusCode < 500
          ? new WxpayWireError(400, 'PARAM_ERROR', `请求无效: ${(error as Error).message}`)
          : new WxpayWireError(500, 'SYSTEM_ERROR', '系统错误');
    if (!(error instanceof WxpayWireError)) request.log.error({ err: error }, 'wxpay sandbox internal error');
    return reply
      .code(wire.status)
      .type('application/json; charset=utf-8')
      .send(JSON.stringify(wire.toBody()));
  });

  scope.setNotFoundHandler((_request, reply) =>
    reply
      .code(404)
      .type('application/json; charset=utf-8')
      .send(JSON.stringify({ code: 'NOT_FOUND', message: '请求的资源不存在' })),
  );

  scope.addHook('onSend', async (request, reply, payload) => {
    const state = states.get(request) ?? { requestId: randomHexUpper(gateway.runtime.random, 32) };
    reply.header('Request-ID', state.requestId);
    const merchant = state.merchant ?? merchantNamedIn(request, gateway);
    if (!merchant || state.unsigned) return payload;
    const body = typeof payload === 'string' ? payload : payload == null ? '' : undefined;
    if (body === undefined) return payload;
    const fault = gateway.faults.take<SignatureFaultKind>(
      'api',
      state.target ?? { mchid: merchant.mchid },
      SIGNATURE_FAULT_KINDS,
    )?.kind;
    const requested = request.headers['wechatpay-serial'];
    const key = gateway.merchants.responseSigningKey(
      merchant,
      typeof requested === 'string' ? requested : undefined,
    );
    reply.headers(gatewaySignatureHeaders(key, body, gateway.runtime, fault));
    return payload;
  });
}

/** Even a rejected request gets a signed answer when its header names a known merchant. */
function merchantNamedIn(request: FastifyRequest, gateway: WxpayGateway): Merchant | undefined {
  try {
    return gateway.merchants.get(parseAuthorization(request.headers.authorization).mchid);
  } catch {
    return undefined;
  }
}

export interface OperationDefinition {
  operation: ApiOperation;
  /** The order a fault may target, known from the path or body. */
  outTradeNo?: (context: SignedRequestContext, request: FastifyRequest) => string | undefined;
  handle: (context: SignedRequestContext, request: FastifyRequest) => WireReply | Promise<WireReply>;
}

/** Authenticates, applies faults and sends the endpoint's reply as exact JSON bytes. */
export function signedOperation(gateway: WxpayGateway, definition: OperationDefinition) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const state = stateOf(request);
    const rawBody = typeof request.body === 'string' ? request.body : '';
    const merchant = authenticateRequest(
      {
        method: request.method,
        pathWithQuery: request.url,
        body: rawBody,
        authorization: request.headers.authorization,
      },
      gateway.merchants,
      // The merchant signs with the real time, whatever the gateway's clock says.
      gateway.runtime.clock.wall.now(),
    );
    state.merchant = merchant;
    const context: SignedRequestContext = { merchant, body: parseJsonBody(rawBody), rawBody };
    state.target = {
      mchid: merchant.mchid,
      operation: definition.operation,
      outTradeNo: definition.outTradeNo?.(context, request),
    };

    const fault = gateway.faults.take<GateFaultKind>('api', state.target, GATE_FAULTS);
    let handled: WireReply | WxpayWireError | undefined;
    if (fault?.spec.afterHandling) handled = await settle(() => definition.handle(context, request));
    switch (fault?.kind) {
      case 'frequencyLimited':
        throw new WxpayWireError(429, 'FREQUENCY_LIMITED', '请求频率超限，请降低请求频率');
      case 'notEnough':
        throw new WxpayWireError(403, 'NOT_ENOUGH', '基本账户余额不足，请充值后重新发起');
      case 'systemError':
        throw new WxpayWireError(500, 'SYSTEM_ERROR', '系统错误');
      case 'badGateway':
        state.unsigned = true;
        return reply.code(502).type('text/html').send(BAD_GATEWAY_HTML);
      case 'hang':
        return gateway.holdForever(() => request.raw.socket?.destroy());
      case 'delay':
        await sleep(fault.spec.delayMs ?? 1000);
        break;
    }
    const outcome = handled ?? (await settle(() => definition.handle(context, request)));
    if (outcome instanceof WxpayWireError) throw outcome;
    if (outcome.status === 204) return reply.code(204).send();
    if (outcome.text !== undefined)
      return reply.code(outcome.status).type('text/plain; charset=utf-8').send(outcome.text);
    return reply
      .code(outcome.status)
      .type('application/json; charset=utf-8')
      .send(JSON.stringify(outcome.body));
  };
}

async function settle(run: () => WireReply | Promise<WireReply>): Promise<WireReply | WxpayWireError> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof WxpayWireError) return error;
    throw error;
  }
}

function parseJsonBody(rawBody: string): Record<string, unknown> {
  if (rawBody.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody);
  } catch {
    throw new WxpayWireError(400, 'PARAM_ERROR', '请求体不是合法的JSON', {
      location: 'body',
      issue: 'invalid json',
    });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw invalidField('', parsed, '请求体应为JSON对象');
  return parsed as Record<string, unknown>;
}
