export type Fen = number;
/** The largest amount a single order may carry unless configured otherwise: 10,000 yuan. */
export declare const DEFAULT_MAX_FEN = 1000000;
/** Amounts are stored as PostgreSQL integer and WeChat's `amount.total` is an int32. */
export declare const HARD_MAX_FEN = 2147483647;
/** Why a value is not a valid amount, or null when it is one. */
export declare function fenProblem(value: unknown, maxFen?: Fen): string | null;
/** Returns the amount if it is a valid positive integer of fen within the limit, or throws 40001. */
export declare function assertFen(value: unknown, field?: string, maxFen?: Fen): Fen;
/** "88.80" -> 8880. Rejects signs, exponents, spaces, more than two decimals and past-limit amounts. */
export declare function yuanToFen(yuan: string, field?: string, maxFen?: Fen): Fen;
/** 8880 -> "88.80", always two decimals, as Alipay expects. */
export declare function fenToYuan(fen: Fen): string;
