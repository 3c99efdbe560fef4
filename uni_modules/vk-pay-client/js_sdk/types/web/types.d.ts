/** What the browser sends and receives: the clients' shared core (src/clients/core). */
export * from '../clients/core/types.js';
