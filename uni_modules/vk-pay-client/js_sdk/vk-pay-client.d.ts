export * from './types/clients/uni/index.js';
