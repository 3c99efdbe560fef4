/**
 * What an app or mini program tells its buyer, in Chinese or English: the outcome of a payment
 * (paid, cancelled, failed, still being confirmed) and a unified error code, in plain words. The
 * developers' wording of a code is describeError's (the server's error table); this is the buyer's.
 */
import type { Failure, Lang } from './errors.js';
export type BuyerSituation = 'paid' | 'cancelled' | 'failed' | 'pending' | 'timeout' | 'closed' | 'expired' | 'alreadyPaid' | 'balance' | 'offline' | 'busy' | 'rateLimited' | 'notFound' | 'badRequest' | 'notAvailable' | 'notInstalled' | 'error';
export interface BuyerWords {
    situation: BuyerSituation;
    title: string;
    text: string;
}
export declare function buyerWords(situation: BuyerSituation, lang?: Lang): BuyerWords;
/** The buyer's situation behind a unified error code. */
export declare function buyerSituationOf(code: number): BuyerSituation;
/** A unified error code (or a failed result) in the buyer's words. */
export declare function describeForBuyer(failure: number | Pick<Failure, 'code'>, lang?: Lang): BuyerWords;
