/**
 * Secrets in the config file are references: "env:NAME" reads an environment variable, "file:PATH"
 * reads a file (relative to the config file). Inline values are accepted in development only.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from './config.ts';

export interface SecretContext {
  env: NodeJS.ProcessEnv;
  /** Folder that file: references are relative to. */
  baseDir: string;
  allowInline: boolean;
}

export function isSecretReference(value: string): boolean {
  return value.startsWith('env:') || value.startsWith('file:');
}

/** Resolves one secret; `field` names it in errors (never its value). */
export function resolveSecret(value: unknown, field: string, context: SecretContext): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new ConfigError(`${field} must be a secret reference such as "env:NAME" or "file:path"`);
  if (value.startsWith('env:')) {
    const name = value.slice(4);
    const resolved = context.env[name];
    if (!resolved) throw new ConfigError(`${field} refers to environment variable ${name}, which is not set`);
    return resolved;
  }
  if (value.startsWith('file:')) {
    const path = resolve(context.baseDir, value.slice(5));
    try {
      return readFileSync(path, 'utf8');
    } catch {
      throw new ConfigError(`${field} refers to file ${path}, which cannot be read`);
    }
  }
  if (!context.allowInline)
    throw new ConfigError(`${field} is written inline; in production use "env:NAME" or "file:path"`);
  return value;
}
