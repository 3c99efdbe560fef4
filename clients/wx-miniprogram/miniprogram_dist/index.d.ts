export * from './types/clients/wx-miniprogram/index.js';
