/** The browser's envelope and error descriptions: the clients' shared core (src/clients/core). */
export * from '../clients/core/errors.ts';
