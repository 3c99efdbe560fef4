/**
 * Gateway-side errors in WeChat's own shape: an HTTP status and a body `{code, message, detail?}`.
 * Codes and statuses follow protocols.md A.8; messages copy the real gateway's wording where known.
 */

export interface WireErrorBody {
  code: string;
  message: string;
  detail?: Record<string, unknown>;
}

export class WxpayWireError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: Record<string, unknown> | undefined;

  constructor(status: number, code: string, message: string, detail?: Record<string, unknown>) {
    super(message);
    this.name = 'WxpayWireError';
    this.status = status;
    this.code = code;
    this.detail = detail;
  }

  toBody(): WireErrorBody {
    const body: WireErrorBody = { code: this.code, message: this.message };
    if (this.detail !== undefined) body.detail = this.detail;
    return body;
  }
}

/** A required field is missing; the message mimics the gateway's "输入源…必填性规则校验失败" text. */
export function missingField(path: string): WxpayWireError {
  return new WxpayWireError(
    400,
    'PARAM_ERROR',
    `输入源“/body/${path}”映射到字段“${path}”必填性规则校验失败，此字段为必填项`,
    { field: path, location: 'body', issue: 'required' },
  );
}

export function invalidField(path: string, value: unknown, issue: string): WxpayWireError {
  return new WxpayWireError(400, 'PARAM_ERROR', `输入源“/body/${path}”映射到字段“${path}”${issue}`, {
    field: path,
    value,
    location: 'body',
    issue,
  });
}

export function invalidRequest(message: string, detail?: Record<string, unknown>): WxpayWireError {
  return new WxpayWireError(400, 'INVALID_REQUEST', message, detail);
}

export function orderNotExist(): WxpayWireError {
  return new WxpayWireError(404, 'ORDER_NOT_EXIST', '订单不存在');
}

export function resourceNotExists(message: string): WxpayWireError {
  return new WxpayWireError(404, 'RESOURCE_NOT_EXISTS', message);
}

export function signError(message: string, detail: Record<string, unknown>): WxpayWireError {
  return new WxpayWireError(401, 'SIGN_ERROR', message, detail);
}
