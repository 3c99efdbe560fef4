/**
 * Text PostgreSQL cannot store, refused at the edge: a NUL character (text and jsonb reject it)
 * or a lone UTF-16 surrogate (jsonb rejects its escape; text would silently get U+FFFD). Every
 * path parameter, query value, header and JSON body value and key is checked before any hook or
 * handler sees it, and each offending field is named.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Problem, problemsError } from '../../core/validate.ts';

/** NUL, or a high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what is refused.
const UNSTORABLE_SOURCE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
  .source;
const UNSTORABLE = new RegExp(UNSTORABLE_SOURCE);
const UNSTORABLE_ALL = new RegExp(UNSTORABLE_SOURCE, 'g');

/** A field name as it can be shown: the bad characters themselves escaped. */
function printable(name: string): string {
  return name.replace(UNSTORABLE_ALL, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function problemAt(field: string): Problem {
  return {
    field,
    message: `${field} contains a NUL character or a lone surrogate, which cannot be stored`,
  };
}

/**
 * Problems of every string (values and keys) under `root`. Walked with an explicit stack: a
 * 64 KB JSON body can nest tens of thousands of levels deep.
 */
export function unstorableText(root: unknown, rootName: string): Problem[] {
  const problems: Problem[] = [];
  const stack: [unknown, string][] = [[root, rootName]];
  while (stack.length > 0 && problems.length < 20) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (UNSTORABLE.test(value)) problems.push(problemAt(path || '(body)'));
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], `${path}[${i}]`]);
    } else if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        // A wildcard route's '*' parameter is the rest of the path.
        const shown = key === '*' && path === '' ? '(path)' : printable(key);
        const name = path ? `${path}.${shown}` : shown;
        if (UNSTORABLE.test(key)) problems.push(problemAt(name));
        stack.push([(value as Record<string, unknown>)[key], name]);
      }
    }
  }
  return problems;
}

function requestProblems(request: FastifyRequest): Problem[] {
  const problems = [
    ...unstorableText(request.params, ''),
    ...unstorableText(request.query, ''),
    ...unstorableText(request.body, ''),
  ];
  for (const [name, value] of Object.entries(request.headers)) {
    const values = Array.isArray(value) ? value : [value];
    if (values.some((one) => typeof one === 'string' && UNSTORABLE.test(one)))
      problems.push(problemAt(`header ${printable(name)}`));
  }
  return problems;
}

/** Refuses, as one 40001, a request carrying text that cannot be stored. */
export function installTextGuard(app: FastifyInstance): void {
  // A callback hook: it runs on every request and has nothing to wait for.
  app.addHook('preValidation', (request, _reply, done) => {
    const problems = requestProblems(request);
    done(problems.length > 0 ? problemsError(problems) : undefined);
  });
}
