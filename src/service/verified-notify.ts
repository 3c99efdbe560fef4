/**
 * One way to take a gateway's notification about money going out (a transfer, a split): find the
 * merchant's account, let the provider verify it with that account's keys, apply what it says,
 * and answer in the gateway's format. A merchant not configured here is told so (404), a
 * notification that does not verify is refused, our own failure asks for it again, and one that is
 * verified but about nothing we can apply is acknowledged so the gateway stops. Never a 5xx of ours
 * for the gateway's input.
 */
import { isPayError } from '../core/errors.ts';
import { DEFAULT_ACCOUNT } from '../providers/merchant-lookup.ts';
import type { NotifyAck, NotifyAnswer, Provider } from '../providers/provider.ts';
import type { ServiceContext } from './context.ts';

export interface VerifiedNotifyRequest {
  provider: string;
  merchantId: string;
  account?: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
}

/** What a kind of notification needs from its provider: verify, answer, and apply. */
export interface NotifyChannel<Word> {
  /** For the log line of a refused one: "transfer", "split". */
  what: string;
  parse(
    merchantId: string,
    headers: Record<string, string | string[] | undefined>,
    rawBody: Buffer,
    account?: string,
  ): Promise<Word>;
  ack(answer: NotifyAnswer): NotifyAck;
  apply(word: Word): Promise<{ outcome: string }>;
}

export async function handleVerifiedNotify<Word>(
  context: ServiceContext,
  request: VerifiedNotifyRequest,
  channelOf: (provider: Provider) => NotifyChannel<Word> | undefined,
): Promise<{ ack: NotifyAck; outcome: string }> {
  const provider = context.providers.get(request.provider);
  const channel = provider && channelOf(provider);
  if (!provider || !channel)
    return { ack: { status: 404, headers: {}, body: 'unknown provider' }, outcome: 'unknown_provider' };
  const account = request.account ?? DEFAULT_ACCOUNT;
  if (
    (provider.merchantIds && !provider.merchantIds().includes(request.merchantId)) ||
    (provider.accounts && !provider.accounts(request.merchantId).includes(account))
  )
    return { ack: channel.ack('unknown_merchant'), outcome: 'unknown_merchant' };
  let word: Word;
  try {
    word = await channel.parse(request.merchantId, request.headers, request.rawBody, request.account);
  } catch (error) {
    const code = isPayError(error) ? error.code : 50000;
    context.logger.warn({ provider: request.provider, code }, `${channel.what} notification refused`);
    return { ack: channel.ack(code === 40002 ? 'refused' : 'retry'), outcome: 'refused' };
  }
  try {
    const applied = await channel.apply(word);
    return { ack: channel.ack('accepted'), outcome: applied.outcome };
  } catch (error) {
    const payError = isPayError(error) ? error : null;
    // Verified, but about nothing of ours or not applicable: recorded, and the gateway told to stop.
    if (payError && !payError.retryable && payError.code !== 50000)
      return { ack: channel.ack('accepted'), outcome: 'ignored' };
    return { ack: channel.ack('retry'), outcome: 'retry' };
  }
}
