/**
 * Requests generated from the service's own OpenAPI document, well-formed and mutated (wrong types,
 * huge numbers, NUL and lone surrogates, long strings, odd content types and methods, random and
 * badly encoded paths): none answers 5xx, none shows a stack trace or the framework's error body,
 * and every JSON answer is in the envelope. Signed (so requests reach validation) and unsigned.
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/core/errors.ts';
import { buildApp } from '../../src/http/app.ts';
import { API_APP, startWxpayHarness, type WxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { type RawRequest, rawInject } from '../support/raw-request.ts';

/**
 * Requests per backend, most signed, the rest unsigned in development: 10,000 on the embedded
 * backend, a quarter of that on the servers (the same PostgreSQL, over a socket) to keep CI bounded.
 */
const RUNS = Number(process.env.VKPAY_FUZZ_RUNS ?? 10_000);
const runsOn = (backend: string) => (backend === 'pglite+memory' ? RUNS : Math.ceil(RUNS / 4));
const BATCH = 10;

interface Schema {
  type?: string | string[];
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  format?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  anyOf?: Schema[];
  oneOf?: Schema[];
}

interface Operation {
  method: string;
  /** OpenAPI path with {params}. */
  path: string;
  pathParams: { name: string; schema: Schema }[];
  queryParams: { name: string; schema: Schema }[];
  body?: Schema;
}

/** Text no store can keep, and other strings that break naive code. */
const nasty = fc.constantFrom(
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfff',
  '\ud83d\ude00',
  '',
  ' ',
  '%00',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "'; drop table payment_orders; --",
  '__proto__',
  'constructor',
  '\u202e',
  '\r\n',
  'x'.repeat(70_000),
);
const anyString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: nasty },
  { weight: 1, arbitrary: fc.string({ maxLength: 600 }) },
);
const hugeNumber = fc.constantFrom(
  0,
  -1,
  -5,
  1.5,
  1e300,
  -1e300,
  10_000_000_000_000,
  2 ** 31,
  2 ** 53,
  Number.MAX_SAFE_INTEGER + 2,
  5e-324,
);
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  anyString,
  hugeNumber,
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.integer(), anyString), { maxLength: 5 }),
  fc.dictionary(anyString, fc.oneof(fc.integer(), anyString), { maxKeys: 4 }),
  fc.constant({ a: { b: { c: { d: ['\u0000'] } } } }),
);

/** Realistic values where the schema alone would almost never produce an acceptable one. */
const HINTS: Record<string, fc.Arbitrary<unknown>> = {
  type: fc.constantFrom('goods', 'recharge', 'vip', 'custom'),
  total_fee: fc.integer({ min: 1, max: 100_000 }),
  refund_fee: fc.integer({ min: 1, max: 1000 }),
  time_expire: fc.integer({ min: 60, max: 7200 }),
  url: fc.constant('http://127.0.0.1:9/fuzz'),
  date: fc.constant('2026-01-01'),
  from: fc.constantFrom('2026-01-01T00:00:00Z', '1767225600'),
  to: fc.constantFrom('2026-01-02T00:00:00Z', '1767312000'),
  await_notify: fc.constantFrom('false', '0'),
  merchant: fc.constant('shop1'),
};

function arbitraryOf(schema: Schema, name: string, depth: number): fc.Arbitrary<unknown> {
  const hint = HINTS[name];
  if (hint) return hint;
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives)
    return fc.oneof(...alternatives.map((alternative) => arbitraryOf(alternative, name, depth)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string': {
      if (schema.pattern) {
        const matching = fc.stringMatching(new RegExp(schema.pattern));
        return schema.maxLength === undefined
          ? matching
          : matching.filter(
              (s) => s.length <= (schema.maxLength ?? 0) && s.length >= (schema.minLength ?? 0),
            );
      }
      if (schema.format === 'date-time') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
      return fc.string({
        minLength: schema.minLength ?? 0,
        maxLength: Math.min(schema.maxLength ?? 40, 200),
      });
    }
    case 'integer':
      return fc.integer({
        min: schema.minimum ?? -1000,
        max: Math.min(schema.maximum ?? 1_000_000, 2 ** 31 - 1),
      });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(arbitraryOf(schema.items ?? {}, name, depth + 1), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 3, 3),
      });
    case 'object': {
      if (depth > 3 || !schema.properties)
        return fc.dictionary(
          fc.string({ maxLength: 10 }),
          fc.oneof(fc.integer(), fc.string({ maxLength: 20 })),
          {
            maxKeys: 3,
          },
        );
      const required = new Set(schema.required ?? []);
      const entries = Object.entries(schema.properties).map(
        ([key, child]) =>
          [
            key,
            required.has(key)
              ? arbitraryOf(child, key, depth + 1)
              : fc.option(arbitraryOf(child, key, depth + 1), { nil: undefined, freq: 2 }),
          ] as const,
      );
      return fc
        .record(Object.fromEntries(entries))
        .map((record) =>
          Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)),
        );
    }
    default:
      return anyJson;
  }
}

/** One change that makes a well-formed body malformed. */
function mutate(body: unknown): fc.Arbitrary<unknown> {
  const record =
    body !== null && typeof body === 'object' && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : {};
  const keys = Object.keys(record);
  const pickKey = keys.length > 0 ? fc.constantFrom(...keys) : fc.constant('x');
  return fc.oneof(
    fc.tuple(pickKey, anyJson).map(([key, value]) => ({ ...record, [key]: value })),
    fc.tuple(pickKey, hugeNumber).map(([key, value]) => ({ ...record, [key]: value })),
    fc.tuple(pickKey, nasty).map(([key, value]) => ({ ...record, [key]: value })),
    fc.tuple(anyString, anyJson).map(([key, value]) => ({ ...record, [key]: value })),
    pickKey.map((key) => Object.fromEntries(Object.entries(record).filter(([k]) => k !== key))),
    fc
      .tuple(nasty, anyString)
      .map(([key, value]) => ({ ...record, custom: { [key]: value, nested: { deep: value } } })),
    anyJson,
  );
}

const contentTypes = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/x-www-form-urlencoded',
      'text/plain',
      'multipart/form-data; boundary=xyz',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'APPLICATION/JSON',
      'application/jsonx',
      'application/json-patch+json',
      'application/xml',
      '*/*',
      ';;;',
      'application/json; a',
      `application/json; ${Array.from({ length: 500 }, (_, i) => `p${i}=${i}`).join('; ')}`,
      `application/json;${' '.repeat(2000)}charset=utf-8`,
    ),
  },
);

/**
 * Percent-encoding that also takes lone surrogates, as the UTF-8-like bytes a careless client
 * sends for them (ED A0 80), which are not valid UTF-8.
 */
function encodeLoose(value: string): string {
  return encodeURIComponent(
    value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'),
  ).replace(/%EF%BF%BD/g, '%ED%A0%80');
}

/** A generated value as text on the wire: a JSON text for objects (some have no prototype). */
function onWire(value: unknown): string {
  return value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** A path segment, well-formed or not, as it goes on the wire. */
function segment(schema: Schema, name: string): fc.Arbitrary<string> {
  return fc.oneof(
    {
      weight: 6,
      arbitrary: arbitraryOf(schema, name, 0).map((v) => encodeLoose(onWire(v))),
    },
    {
      weight: 2,
      arbitrary: anyString.map((v) => encodeLoose(String(v).slice(0, 2000))),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '%00',
        '%',
        '%zz',
        '%E0%A4%A',
        '%ED%A0%80',
        '%C0%AF',
        '..',
        '.',
        'a'.repeat(600),
        'a'.repeat(5000),
        '%2F',
      ),
    },
  );
}

function pathOf(operation: Operation): fc.Arbitrary<string> {
  const parts = operation.path.split(/(\{[^}]+\})/);
  return fc
    .tuple(
      ...parts.map((part) => {
        const name = part.startsWith('{') ? part.slice(1, -1) : undefined;
        if (name === undefined) return fc.constant(part);
        const param = operation.pathParams.find((p) => p.name === name);
        return segment(param?.schema ?? { type: 'string' }, name);
      }),
    )
    .map((pieces) => pieces.join(''));
}

function queryOf(operation: Operation): fc.Arbitrary<string> {
  const pair = (name: string, schema: Schema) =>
    fc
      .oneof(
        { weight: 5, arbitrary: arbitraryOf(schema, name, 0).map((v) => encodeLoose(onWire(v))) },
        {
          weight: 2,
          arbitrary: anyString.map((v) => encodeLoose(String(v).slice(0, 500))),
        },
        { weight: 1, arbitrary: fc.constantFrom('%00', '%', '%E0', 'a&a', '') },
      )
      .map((value) => `${encodeURIComponent(name)}=${value}`);
  const known = operation.queryParams.map((param) => fc.option(pair(param.name, param.schema), { freq: 2 }));
  const unknown = fc.option(pair('unknown', { type: 'string' }), { freq: 6 });
  return fc.tuple(...known, unknown).map((pairs) => {
    const present = pairs.filter((p): p is string => typeof p === 'string');
    return present.length > 0 ? `?${present.join('&')}` : '';
  });
}

function requestOf(operation: Operation): fc.Arbitrary<RawRequest> {
  const method = fc.oneof(
    { weight: 12, arbitrary: fc.constant(operation.method) },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD') },
  );
  const body: fc.Arbitrary<unknown> = operation.body
    ? arbitraryOf(operation.body, '', 0).chain((wellFormed) =>
        fc.oneof(
          { weight: 2, arbitrary: fc.constant(wellFormed) },
          { weight: 3, arbitrary: mutate(wellFormed) },
        ),
      )
    : fc.option(anyJson, { freq: 4, nil: undefined });
  const rawBody = fc.oneof(
    { weight: 12, arbitrary: body },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{',
        '{"a":',
        '[',
        'null',
        '"x"',
        '',
        'a=b&c=d',
        '{"a":1}{"b":2}',
        '\u0000',
        '{"__proto__":{"x":1}}',
      ),
    },
  );
  return fc
    .record({
      method,
      path: pathOf(operation),
      query: queryOf(operation),
      body: rawBody,
      contentType: contentTypes,
    })
    .map(({ method, path, query, body, contentType }) => ({
      method,
      url: `${path}${query}`,
      ...(body === undefined || method === 'GET' || method === 'HEAD' ? {} : { body, contentType }),
    }));
}

const randomPath: fc.Arbitrary<RawRequest> = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
    prefix: fc.constantFrom(
      '/api/',
      '/api/payments/',
      '/api/refunds/',
      '/admin/',
      '/checkout/',
      '/notify/wxpay/',
      '/',
      '//',
    ),
    rest: fc.oneof(
      fc.webPath(),
      fc.string({ unit: 'binary', maxLength: 30 }).map(encodeLoose),
      fc.constantFrom('%00', '%', '%ED%A0%80', 'a/%00/b', '..%2F..%2F', '?=&', '#frag', 'x'.repeat(3000)),
    ),
  })
  .map(({ method, prefix, rest }) => ({ method, url: `${prefix}${rest.replace(/^\//, '')}` }));

interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: { in: string; name: string; schema: Schema }[];
        requestBody?: { content: Record<string, { schema: Schema }> };
      }
    >
  >;
}

function operationsOf(app: FastifyInstance): Operation[] {
  const spec = (app as unknown as { swagger(): OpenApi }).swagger();
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(spec.paths)) {
    if (path.startsWith('/checkout/assets')) continue;
    for (const [method, op] of Object.entries(methods)) {
      const parameters = op.parameters ?? [];
      operations.push({
        method: method.toUpperCase(),
        path,
        pathParams: parameters.filter((p) => p.in === 'path'),
        queryParams: parameters.filter((p) => p.in === 'query'),
        ...(op.requestBody?.content['application/json']
          ? { body: op.requestBody.content['application/json'].schema }
          : {}),
      });
    }
  }
  return operations;
}

/** What no answer may contain: a stack frame, Fastify's error body or code, a JS error name. */
const LEAK = /FST_ERR|"statusCode"|"error":"|\bat [\w.<>]+ \(|node_modules|TypeError|RangeError|SyntaxError/;

describe.each(backends)('generated requests on $name', (backend) => {
  let h: WxpayHarness;
  let signedApp: FastifyInstance;
  let devApp: FastifyInstance;
  let request: fc.Arbitrary<RawRequest>;

  beforeAll(async () => {
    h = await startWxpayHarness(backend);
    const security = { rateLimitsEnabled: false };
    signedApp = await buildApp({ vkPay: h.vkPay, apps: [API_APP], security });
    devApp = await buildApp({
      vkPay: h.vkPay,
      apps: [API_APP],
      security: { ...security, requireSignature: false },
    });
    await signedApp.ready();
    await devApp.ready();
    const operations = operationsOf(signedApp);
    expect(operations.map((op) => `${op.method} ${op.path}`)).toEqual(
      expect.arrayContaining([
        'POST /api/payments',
        'POST /api/refunds',
        'POST /api/checkouts',
        'POST /admin/reconcile',
      ]),
    );
    request = fc.oneof(
      { weight: 10, arbitrary: fc.constantFrom(...operations).chain(requestOf) },
      { weight: 1, arbitrary: randomPath },
    );
  });
  afterAll(async () => {
    await signedApp?.close();
    await devApp?.close();
    await h?.close();
  });

  const check = (mode: 'signed' | 'unsigned', runs: number) => async () => {
    const app = mode === 'signed' ? signedApp : devApp;
    const statuses = new Map<number, number>();
    const answer = async (generated: RawRequest) => {
      const inject = rawInject(
        generated,
        mode === 'signed' && generated.url.startsWith('/api/') ? API_APP : undefined,
      );
      const response = await app.inject(inject);
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      const what = `${generated.method} ${generated.url.slice(0, 120)} -> ${response.statusCode} ${response.body.slice(0, 300)}`;
      expect(response.statusCode, what).toBeLessThan(500);
      expect(LEAK.test(response.body), what).toBe(false);
      const json = String(response.headers['content-type'] ?? '').startsWith('application/json');
      // Callbacks answer in the gateway's own format (WeChat Pay's {code: 'FAIL'}, Alipay's 'fail').
      if (generated.method === 'HEAD' || generated.url.startsWith('/notify/')) return;
      if (generated.url.startsWith('/api/') || generated.url.startsWith('/admin/'))
        expect(json, what).toBe(true);
      if (!json) return;
      const body = response.json();
      if (response.statusCode < 400) {
        expect(body, what).toMatchObject({ code: 0, msg: 'ok' });
      } else {
        expect(ERROR_CODES, what).toContain(body.code);
        expect(body, what).toMatchObject({
          msg: expect.any(String),
          action: expect.any(String),
          requestId: expect.any(String),
        });
      }
    };
    // Batches answered concurrently, as a busy service is asked: fewer runs of the property, and
    // the store's round trips overlap.
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        await Promise.all(batch.map(answer));
      }),
      { numRuns: Math.ceil(runs / BATCH), endOnFailure: true },
    );
    // The generator reaches the handlers: some requests succeed and most are refused.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(runs / 10);
    if (runs >= 1000) expect(statuses.get(200) ?? 0).toBeGreaterThan(runs / 100);
  };

  const runs = runsOn(backend.name);
  it(
    `answers ${Math.ceil(runs * 0.8)} signed generated requests without 5xx, in the envelope`,
    check('signed', Math.ceil(runs * 0.8)),
    180_000,
  );
  it(
    `answers ${Math.ceil(runs * 0.2)} unsigned generated requests in development the same way`,
    check('unsigned', Math.ceil(runs * 0.2)),
    180_000,
  );
});
