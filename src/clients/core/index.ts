/** The clients' shared core: see docs/client-sdk.md. */
export * from './buyer.ts';
export * from './client.ts';
export * from './errors.ts';
export * from './pay-result.ts';
export * from './types.ts';
