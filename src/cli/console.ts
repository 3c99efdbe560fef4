/**
 * `vk-pay console ...`: operator accounts from the command line, on the service's own store. The
 * way to make the first admin in production, and to recover an account (a lost phone, a leaver).
 */
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/service-config.ts';
import { PayError } from '../core/errors.ts';
import {
  changeUser,
  checkMerchantIds,
  checkName,
  checkPassword,
  checkRole,
  createUser,
  disableUser,
  listUsers,
  resetTotp,
  SYSTEM,
} from '../service/console/accounts.ts';
import { createVkPay } from '../vk-pay.ts';

export const CONSOLE_HELP = `vk-pay console <command>
  add-user <name> --role viewer|operator|admin [--merchant ID]... [--password-stdin]
                     create an operator; prints a generated password once, or reads one
                     (12 to 256 characters) from standard input with --password-stdin
  set-role <name> --role viewer|operator|admin [--merchant ID]... [--all-merchants]
                     change an operator's role or merchants; their sessions end
  list-users         name, role, merchants, second factor and state of every operator
  reset-totp <name>  remove an operator's second factor; they enrol again at next sign-in
  disable-user <name>
                     stop an operator signing in; their sessions end
  Exit codes: 0 done, 1 refused (no such user, name taken), 2 bad usage or value.
  The store is the service's: DATABASE_URL, or VKPAY_DATA_DIR (./data) while the service is stopped.
`;

class UsageError extends Error {}

interface Parsed {
  command: string;
  name: string | undefined;
  role: string | undefined;
  merchants: string[];
  allMerchants: boolean;
  passwordStdin: boolean;
}

function parse(args: string[]): Parsed {
  const [command = '', ...rest] = args;
  const parsed: Parsed = {
    command,
    name: undefined,
    role: undefined,
    merchants: [],
    allMerchants: false,
    passwordStdin: false,
  };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--role' || arg === '--merchant') {
      const value = rest[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      if (arg === '--role') parsed.role = value;
      else parsed.merchants.push(value);
    } else if (arg === '--password-stdin') parsed.passwordStdin = true;
    else if (arg === '--all-merchants') parsed.allMerchants = true;
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else if (parsed.name === undefined) parsed.name = arg;
    else throw new UsageError(`unexpected argument ${arg}`);
  }
  return parsed;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing newline is how `echo` and most secret stores end a value; it is not part of it.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

const COMMANDS = ['add-user', 'set-role', 'list-users', 'reset-totp', 'disable-user'];

export async function runConsoleCommand(
  args: string[],
  config: ServiceConfig,
  logger: Logger,
): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parse(args);
    if (!COMMANDS.includes(parsed.command))
      throw new UsageError(`unknown console command ${parsed.command || '(none)'}`);
    if (parsed.command !== 'list-users' && parsed.name === undefined)
      throw new UsageError('a user name is needed');
    if (parsed.command === 'add-user' && parsed.role === undefined) throw new UsageError('--role is needed');
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${CONSOLE_HELP}`);
    return 2;
  }
  const password = parsed.passwordStdin ? await readStdin() : undefined;
  try {
    // Values are checked before the store is opened: a typo costs nothing.
    if (parsed.name !== undefined) checkName(parsed.name);
    if (parsed.role !== undefined) checkRole(parsed.role);
    if (parsed.merchants.length > 0) checkMerchantIds(parsed.merchants);
    if (password !== undefined) checkPassword(password);
  } catch (error) {
    if (!(error instanceof PayError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const vkPay = await createVkPay({ ...config, logger });
  try {
    const db = vkPay.store.db;
    const name = parsed.name ?? '';
    switch (parsed.command) {
      case 'add-user': {
        const created = await createUser(db, SYSTEM, {
          name,
          role: parsed.role as never,
          merchantIds: parsed.merchants,
          ...(password === undefined ? {} : { password }),
        });
        const scope = created.user.merchantIds ? created.user.merchantIds.join(', ') : 'all merchants';
        process.stdout.write(`created ${created.user.role} ${created.user.name} (${scope})\n`);
        if (password === undefined)
          process.stdout.write(
            `password: ${created.password}\n(shown this once; it is stored only as a hash)\n`,
          );
        break;
      }
      case 'set-role': {
        const user = await changeUser(db, SYSTEM, name, {
          ...(parsed.role === undefined ? {} : { role: parsed.role as never }),
          ...(parsed.allMerchants
            ? { merchantIds: null }
            : parsed.merchants.length > 0
              ? { merchantIds: parsed.merchants }
              : {}),
        });
        process.stdout.write(
          `${user.name} is ${user.role} (${user.merchantIds?.join(', ') ?? 'all merchants'})\n`,
        );
        break;
      }
      case 'list-users': {
        const users = await listUsers(db);
        if (users.length === 0)
          process.stdout.write('no console users; create one with vk-pay console add-user\n');
        for (const user of users) {
          process.stdout.write(
            `${user.name}\t${user.role}\t${user.merchantIds?.join(',') ?? '*'}\ttotp=${user.totp ? 'on' : 'off'}\t${user.disabled ? 'disabled' : 'active'}\n`,
          );
        }
        break;
      }
      case 'reset-totp':
        await resetTotp(db, SYSTEM, name);
        process.stdout.write(`second factor of ${name} removed; they enrol again at their next sign-in\n`);
        break;
      case 'disable-user':
        await disableUser(db, SYSTEM, name);
        process.stdout.write(`${name} disabled; their sessions ended\n`);
        break;
    }
    return 0;
  } catch (error) {
    if (error instanceof PayError && error.code !== 50000) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await vkPay.close();
  }
}
