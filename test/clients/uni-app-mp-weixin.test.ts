/**
 * The example uni-app project compiled for WeChat mini programs with uni-app's own compiler: the
 * page and the cashier component come out as mini program files, and the client's requestPayment
 * call is in the package it ships.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExample, type ExampleBuild } from '../support/uni-app-example.ts';

const COMPONENT = 'uni_modules/vk-pay-client/components/vk-pay-cashier/vk-pay-cashier';

describe('the example uni-app project built for mp-weixin', () => {
  let build: ExampleBuild;
  const read = (path: string) => readFileSync(join(build.outDir, path), 'utf8');
  /** Whether a built file has a piece of text (a failure names both, not the whole minified file). */
  const has = (path: string, text: string | RegExp) =>
    expect(
      typeof text === 'string' ? read(path).includes(text) : text.test(read(path)),
      `${path}: ${text}`,
    ).toBe(true);

  beforeAll(async () => {
    build = await buildExample('mp-weixin', { VITE_VKPAY_URL: 'https://pay.example.com' });
    console.log(`mp-weixin build: ${build.ms} ms`);
  }, 180_000);
  afterAll(() => {
    if (build) rmSync(build.outDir, { recursive: true, force: true });
  });

  it('has app.json listing the page, and the page using the cashier component', () => {
    expect(JSON.parse(read('app.json')).pages).toEqual(['pages/index/index']);
    for (const ext of ['js', 'json', 'wxml', 'wxss'])
      expect(existsSync(join(build.outDir, `pages/index/index.${ext}`))).toBe(true);
    expect(JSON.parse(read('pages/index/index.json')).usingComponents).toEqual({
      'vk-pay-cashier': `../../${COMPONENT}`,
    });
    has('pages/index/index.wxml', '<vk-pay-cashier');
    // The service's URL given at build time is in the page.
    has('pages/index/index.js', 'https://pay.example.com');
  });

  it('compiles the cashier component to wxml, js, json and wxss', () => {
    for (const ext of ['js', 'json', 'wxml', 'wxss'])
      expect(existsSync(join(build.outDir, `${COMPONENT}.${ext}`))).toBe(true);
    expect(JSON.parse(read(`${COMPONENT}.json`)).component).toBe(true);
    has(`${COMPONENT}.wxml`, 'class="vkpay-cashier__amount"');
    has(`${COMPONENT}.wxml`, /<button wx:for="\{\{\w+\}\}" wx:for-item="method"/);
    has(`${COMPONENT}.wxml`, '<image');
    has(`${COMPONENT}.js`, 'require("../../js_sdk/vk-pay-client.js")');
    has(`${COMPONENT}.js`, 'emits:["success","fail","cancel","close","update:show"]');
  });

  it("ships the client, whose pay() calls the platform's requestPayment", () => {
    has('uni_modules/vk-pay-client/js_sdk/vk-pay-client.js', 'requestPayment');
    has('uni_modules/vk-pay-client/js_sdk/vk-pay-client.js', 'requestVirtualPayment');
  });
});
