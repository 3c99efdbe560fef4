/** Turns a failure of the database into the unified table: busy when it may pass, 50000 otherwise. */
import { PayError } from '../core/errors.ts';

const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '53300', // too_many_connections
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the server is starting up or shutting down
  '08000', // connection_exception
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '08001', // unable to connect
]);

export function storeFailure(error: unknown): PayError {
  if (error instanceof PayError) return error;
  const sqlState = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const transient =
    (typeof sqlState === 'string' && TRANSIENT_SQLSTATES.has(sqlState)) ||
    /timeout exceeded when trying to connect|Connection terminated|connection error and is not queryable|ECONNREFUSED|ECONNRESET/i.test(
      message,
    );
  return new PayError(transient ? 40010 : 50000, { message: `store: ${message}`, cause: error });
}
