import { PayError } from '../core/errors.ts';
import { DEFAULT_ACCOUNT } from '../providers/merchant-lookup.ts';
import type { SplitReceiver } from '../providers/profit-sharing.ts';
import { deleteReceiver, findReceiver, upsertReceiver } from '../store/profit-sharing.ts';
import type { ServiceContext } from './context.ts';
import { gatewayCall, providerFor } from './gateway-call.ts';
import { profitSharingOperations } from './profit-sharing-flow.ts';

export interface ReceiverInput {
  merchantId: string;
  provider: string;
  account?: string;
  receiver: SplitReceiver;
}

export interface ReceiverView {
  provider: string;
  account: string;
  type: string;
  receiver_account: string;
  relation_type: string | null;
  bound_at: string | null;
}

function checkAccount(context: ServiceContext, provider: string, merchantId: string, account: string): void {
  const accounts = providerFor(context, provider).accounts?.(merchantId);
  if (accounts && !accounts.includes(account))
    throw new PayError(40001, {
      field: 'account',
      message: `merchant ${merchantId} has no ${provider} account ${account}`,
    });
}

/** Binds a receiver at the gateway and keeps it here, its name sealed. Idempotent. */
export async function addReceiver(context: ServiceContext, input: ReceiverInput): Promise<ReceiverView> {
  const operations = profitSharingOperations(context, input.provider);
  const account = input.account ?? DEFAULT_ACCOUNT;
  checkAccount(context, input.provider, input.merchantId, account);
  const receiver = input.receiver;
  if (!operations.receiverTypes.includes(receiver?.type))
    throw new PayError(40001, {
      field: 'type',
      message: `${input.provider} receivers are ${operations.receiverTypes.join(' or ')}`,
    });
  if (typeof receiver.account !== 'string' || receiver.account.length === 0 || receiver.account.length > 64)
    throw new PayError(40001, {
      field: 'account',
      message: 'the receiver account must be 1 to 64 characters',
    });
  if (receiver.name && !context.sealer)
    throw new PayError(40009, {
      field: 'encryption',
      message:
        'receivers with a name need an encryption key (ENCRYPTION_KEY or encryption.keys): the name is stored encrypted only',
    });
  await gatewayCall(
    context,
    {
      type: 'profit_sharing_receiver_add',
      provider: input.provider,
      merchantId: input.merchantId,
      subjectKind: 'payment',
      outTradeNo: null,
    },
    () => operations.addReceiver({ merchantId: input.merchantId, account, receiver }),
  );
  const now = context.now();
  const row = await upsertReceiver(context.store.db, {
    merchant_id: input.merchantId,
    provider: input.provider,
    account,
    type: receiver.type,
    receiver_account: receiver.account,
    name_sealed:
      receiver.name && context.sealer ? JSON.stringify(context.sealer.sealValue(receiver.name)) : null,
    relation_type: receiver.relationType ?? null,
    custom_relation: receiver.customRelation ?? null,
    bound_at: now,
    create_date: now,
    update_date: now,
  });
  return {
    provider: row.provider,
    account: row.account,
    type: row.type,
    receiver_account: row.receiver_account,
    relation_type: row.relation_type,
    bound_at: row.bound_at ? new Date(row.bound_at).toISOString() : null,
  };
}

/** Unbinds a receiver at the gateway and forgets it here. Idempotent. */
export async function removeReceiver(
  context: ServiceContext,
  input: {
    merchantId: string;
    provider: string;
    account?: string;
    type: SplitReceiver['type'];
    receiverAccount: string;
  },
): Promise<void> {
  const operations = profitSharingOperations(context, input.provider);
  const account = input.account ?? DEFAULT_ACCOUNT;
  checkAccount(context, input.provider, input.merchantId, account);
  await gatewayCall(
    context,
    {
      type: 'profit_sharing_receiver_remove',
      provider: input.provider,
      merchantId: input.merchantId,
      subjectKind: 'payment',
      outTradeNo: null,
    },
    () =>
      operations.removeReceiver({
        merchantId: input.merchantId,
        account,
        receiver: { type: input.type, account: input.receiverAccount },
      }),
  );
  const row = await findReceiver(context.store.db, {
    merchantId: input.merchantId,
    provider: input.provider,
    account,
    type: input.type,
    receiverAccount: input.receiverAccount,
  });
  if (row) await deleteReceiver(context.store.db, row.id);
}
