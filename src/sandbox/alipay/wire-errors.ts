/**
 * Gateway answers that are not `10000 Success`: the public codes (20000, 40001, 40002, 40004, 40006)
 * with Alipay's sub_codes. Thrown where the problem is found, turned into a signed response body.
 */
export const CODE_MESSAGES: Readonly<Record<string, string>> = {
  '10000': 'Success',
  '20000': 'Service Currently Unavailable',
  '40001': 'Missing Required Arguments',
  '40002': 'Invalid Arguments',
  '40004': 'Business Failed',
  '40006': 'Insufficient Permissions',
};

export class AlipayGatewayError extends Error {
  constructor(
    readonly code: '20000' | '40001' | '40002' | '40004' | '40006',
    readonly subCode: string,
    readonly subMsg: string,
  ) {
    super(`${code} ${subCode}: ${subMsg}`);
    this.name = 'AlipayGatewayError';
  }

  toResponse(): Record<string, string> {
    return {
      code: this.code,
      msg: CODE_MESSAGES[this.code] ?? 'Business Failed',
      sub_code: this.subCode,
      sub_msg: this.subMsg,
    };
  }
}

/** 40004 with an ACQ.* sub_code: the trade rules said no. */
export function businessFailure(subCode: string, subMsg: string): AlipayGatewayError {
  return new AlipayGatewayError('40004', subCode, subMsg);
}

export function invalidParameter(field: string, why: string): AlipayGatewayError {
  return businessFailure('ACQ.INVALID_PARAMETER', `参数无效: ${field} ${why}`);
}

export const tradeNotExist = (): AlipayGatewayError => businessFailure('ACQ.TRADE_NOT_EXIST', '交易不存在');
