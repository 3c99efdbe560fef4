/**
 * Receivers of splits (分账关系): alipay.trade.royalty.relation.bind and .unbind, one receiver per
 * call. Both are idempotent for the caller: binding a bound receiver succeeds at the gateway, and
 * unbinding one the gateway does not hold bound is done already. The receiver's name exists in clear
 * text only in this call's arguments.
 */
import { randomUUID } from 'node:crypto';
import { isPayError, PayError } from '../../../core/errors.ts';
import type { ReceiverRequest, SplitReceiverType } from '../../profit-sharing.ts';
import type { AlipayContext } from '../context.ts';

/** Our receiver types and Alipay's account types (type, trans_in_type, trans_out_type). */
const ACCOUNT_TYPES: Readonly<Partial<Record<SplitReceiverType, string>>> = {
  ALIPAY_USER_ID: 'userId',
  ALIPAY_LOGON_ID: 'loginName',
};

export const ALIPAY_RECEIVER_TYPES = ['ALIPAY_USER_ID', 'ALIPAY_LOGON_ID'] as const;

/** The sub_code of a settle to, or an unbind of, a receiver the app has not bound. */
export const NOT_BOUND = 'ACQ.ROYALTY_RECEIVER_NOT_BOUND';

export function accountTypeOf(type: SplitReceiverType, field: string): string {
  const accountType = ACCOUNT_TYPES[type];
  if (!accountType)
    throw new PayError(40001, {
      field,
      message: `alipay splits go to an ALIPAY_USER_ID or an ALIPAY_LOGON_ID, not ${JSON.stringify(String(type).slice(0, 24))}`,
    });
  return accountType;
}

export function receiverTypeOf(accountType: unknown): SplitReceiverType | null {
  if (accountType === 'userId') return 'ALIPAY_USER_ID';
  if (accountType === 'loginName') return 'ALIPAY_LOGON_ID';
  return null;
}

function receiverEntry(request: ReceiverRequest): Record<string, string> {
  const { receiver } = request;
  if (typeof receiver.account !== 'string' || receiver.account === '')
    throw new PayError(40001, { field: 'receiver.account', message: 'the receiver needs an account' });
  const entry: Record<string, string> = {
    type: accountTypeOf(receiver.type, 'receiver.type'),
    account: receiver.account,
  };
  if (receiver.name) entry.name = receiver.name;
  const memo = receiver.customRelation ?? receiver.relationType;
  if (memo) entry.memo = memo;
  return entry;
}

async function changeRelation(
  context: AlipayContext,
  method: 'alipay.trade.royalty.relation.bind' | 'alipay.trade.royalty.relation.unbind',
  request: ReceiverRequest,
): Promise<void> {
  const { response } = await context.transport.call({
    method,
    bizContent: {
      receiver_list: [receiverEntry(request)],
      // Each change is its own request: a fixed number would replay an old bind after an unbind.
      out_request_no: randomUUID().replaceAll('-', ''),
    },
    write: true,
  });
  if (response.result_code !== undefined && response.result_code !== 'SUCCESS')
    throw new PayError(50000, {
      gatewayCode: String(response.result_code).slice(0, 32),
      message: `alipay ${method}: result_code ${String(response.result_code).slice(0, 32)}`,
      details: { provider: 'alipay' },
    });
}

export async function bindReceiver(context: AlipayContext, request: ReceiverRequest): Promise<void> {
  await changeRelation(context, 'alipay.trade.royalty.relation.bind', request);
}

export async function unbindReceiver(context: AlipayContext, request: ReceiverRequest): Promise<void> {
  try {
    await changeRelation(context, 'alipay.trade.royalty.relation.unbind', request);
  } catch (error) {
    // Not bound is what the caller asked for.
    if (isPayError(error) && error.gatewayCode === NOT_BOUND) return;
    throw error;
  }
}
