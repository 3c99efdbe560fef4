/**
 * Database failures in the error table: those that pass by themselves (a connection cut, a server
 * restarting, a serialisation conflict) are 40010, retryable, so a caller retries instead of
 * reporting an internal error; anything else stays 50000.
 */
import { describe, expect, it } from 'vitest';
import { storeFailure } from '../../src/service/store-failure.ts';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('storeFailure', () => {
  it.each([
    ['57P01', 'terminating connection due to administrator command'],
    ['57P03', 'the database system is shutting down'],
    ['57P03', 'the database system is starting up'],
    ['08006', 'connection failure'],
    ['40001', 'could not serialize access due to concurrent update'],
  ])('%s (%s) is 40010', (code, message) => {
    const error = storeFailure(pgError(code, message));
    expect(error.code).toBe(40010);
    expect(error.retryable).toBe(true);
  });

  it.each([
    'connect ECONNREFUSED 127.0.0.1:5432',
    'Connection terminated unexpectedly',
    'read ECONNRESET',
    // A pooled connection the server cut while a transaction held it.
    'Client has encountered a connection error and is not queryable',
  ])('a network failure (%s) is 40010', (message) => {
    expect(storeFailure(new Error(message)).code).toBe(40010);
  });

  it('any other failure is 50000', () => {
    expect(storeFailure(pgError('42P01', 'relation "x" does not exist')).code).toBe(50000);
  });
});
