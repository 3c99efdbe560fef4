/**
 * The cashier component as uni-app compiles it for WeChat mini programs, run: the example project
 * is built for mp-weixin, and miniprogram-simulate (WeChat's custom-component test tool: j-component
 * on jsdom, with WeChat's wcc compiler from miniprogram-compiler for the wxml) loads the compiled
 * vk-pay-cashier.{json,wxml,wxss,js} as they are, with uni-app's mini program runtime
 * (common/vendor.js) and the app (app.js, through an `App()`/`getApp()` pair).
 *
 * uni-app hands a component its props from its parent Vue component (`u-p`, a key into the parent
 * instance's props cache), so the cashier is rendered inside a parent written into the build folder
 * in the shape uni-app's compiler gives the example's page (the same `u-p`/`bind:__l`/event bindings
 * in wxml, and a compiled-style setup() over vendor.js): the cashier's own files are not touched.
 * The example's page itself is not the parent: miniprogram-simulate has no `Page()`, and the page
 * pays a checkout token, with which a mini program has one method and the popup skips the list; a
 * mini program pays through the merchant's backend (`pay-body` and `backend`), as here.
 *
 * `wx` is WeChat's API as the runtime uses it: `wx.request` is the merchant's backend of the other
 * client tests (test/clients/recorded.ts), which signs and forwards to the VK-Pay service of the
 * harness over HTTP; `wx.requestPayment` is recorded and answered by the test (the buyer paying at
 * the WeChat Pay emulator, or cancelling). Needs `npm ci --prefix examples/uni-app`; fails without.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { API_APP, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { buildExample, EXAMPLE, type ExampleBuild } from '../support/uni-app-example.ts';
import { BACKEND, type PlatformHandler, platformCalls, type Recorded, recordedPlatform } from './recorded.ts';

const COMPONENT = 'uni_modules/vk-pay-client/components/vk-pay-cashier/vk-pay-cashier';
const HOST = 'vkpay-test-host/host';
const OPENID = 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o';

/** The little of a jsdom element these tests read (the project's TypeScript has no DOM types). */
interface DomElement {
  textContent: string | null;
  classList: { contains(className: string): boolean };
  querySelector(selector: string): DomElement | null;
}
/** j-component's element wrapper (what miniprogram-simulate's render and querySelector answer). */
interface Node {
  dom: DomElement;
  querySelector(selector: string): Node | null;
  querySelectorAll(selector: string): Node[];
  dispatchEvent(name: string, options?: Record<string, unknown>): void;
}
interface Rendered extends Node {
  attach(parent: DomElement): void;
  detach(): void;
}
interface Simulate {
  load(path: string, options: { compiler: 'official' | 'simulate'; rootPath: string }): string;
  render(id: string, properties?: Record<string, unknown>): Rendered;
}

/** What the parent passes to the cashier and what it hears back, for one render. */
interface Host {
  props: Record<string, unknown>;
  set?: (props: Record<string, unknown>) => void;
  events: { type: string; detail?: unknown }[];
  /** uni-app's event handlers: called with what the component emitted (its `__args__`), as in Vue. */
  on: Record<'success' | 'fail' | 'cancel' | 'close' | 'updateShow', (payload?: unknown) => void>;
}

/**
 * The parent, as uni-app compiles `<vk-pay-cashier v-model:show="show" v-bind="props" @success=...>`
 * in a page: props through `e.p(...)`, handlers through `e.o(...)`, and the `__l` link to its child.
 */
function writeHost(outDir: string) {
  mkdirSync(join(outDir, 'vkpay-test-host'));
  writeFileSync(
    join(outDir, `${HOST}.js`),
    `"use strict";const e=require("../common/vendor.js");
wx.createComponent({__name:"vkpay-test-host",setup(){const h=globalThis.__vkpayHost,s=e.ref(h.props);
h.set=(n)=>{s.value={...s.value,...n}};
return()=>({a:e.o(h.on.success),b:e.o(h.on.fail),c:e.o(h.on.cancel),d:e.o(h.on.close),f:e.o(h.on.updateShow),g:e.p(s.value)})}});
`,
  );
  writeFileSync(
    join(outDir, `${HOST}.json`),
    JSON.stringify({ component: true, usingComponents: { 'vk-pay-cashier': `../${COMPONENT}` } }),
  );
  writeFileSync(
    join(outDir, `${HOST}.wxml`),
    '<vk-pay-cashier class="cashier" bindsuccess="{{a}}" bindfail="{{b}}" bindcancel="{{c}}" bindclose="{{d}}" bindupdateShow="{{f}}" u-i="vkpay-test-host-0" bind:__l="__l" u-p="{{g}}"/>',
  );
  writeFileSync(join(outDir, `${HOST}.wxss`), '');
}

/** A DOM for j-component, as jest's jsdom environment gives miniprogram-simulate. */
function installDom(require: NodeRequire): { createElement(tag: string): DomElement } {
  const { JSDOM } = require('jsdom');
  const { window } = new JSDOM('<!doctype html><html><head></head><body></body></html>');
  const g = globalThis as Record<string, unknown>;
  g.window = window;
  for (const name of [
    'document',
    'Node',
    'Element',
    'HTMLElement',
    'Event',
    'CustomEvent',
    'MutationObserver',
  ])
    g[name] = window[name];
  return window.document;
}

/** Until `check` holds (the runtime renders on its own ticks, the service answers over HTTP). */
async function until(check: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the compiled mp-weixin cashier component', () => {
  let build: ExampleBuild;
  let simulate: Simulate;
  let hostId: string;
  let document: { createElement(tag: string): DomElement };
  /** The recorded platform of the render under way: the one `wx` every call goes to. */
  let platform: Recorded | undefined;
  const rendered: { host: Host; node: Rendered }[] = [];

  beforeAll(async () => {
    build = await buildExample('mp-weixin', { VITE_VKPAY_URL: 'http://127.0.0.1:9' });
    const require = createRequire(join(EXAMPLE, 'package.json'));
    document = installDom(require);
    writeHost(build.outDir);
    const current = () => {
      if (!platform) throw new Error('no render under way');
      return platform.global;
    };
    // WeChat's base library as uni-app's runtime reads it, each answer as a phone's.
    const g = globalThis as Record<string, unknown>;
    g.wx = {
      getSystemInfoSync: () => ({
        platform: 'android',
        system: 'Android 13',
        brand: 'vkpay',
        model: 'test',
        language: 'zh_CN',
        version: '8.0.50',
        SDKVersion: '3.5.0',
        pixelRatio: 2,
        windowWidth: 375,
        windowHeight: 667,
        screenWidth: 375,
        screenHeight: 667,
        statusBarHeight: 20,
      }),
      getAppBaseInfo: () => ({ SDKVersion: '3.5.0', language: 'zh_CN', version: '8.0.50', theme: 'light' }),
      getDeviceInfo: () => ({
        platform: 'android',
        system: 'Android 13',
        brand: 'vkpay',
        model: 'test',
        pixelRatio: 2,
      }),
      getWindowInfo: () => ({
        windowWidth: 375,
        windowHeight: 667,
        screenWidth: 375,
        screenHeight: 667,
        pixelRatio: 2,
        statusBarHeight: 20,
      }),
      getAccountInfoSync: () => ({ miniProgram: { appId: 'wx0000000000000000', envVersion: 'develop' } }),
      getLaunchOptionsSync: () => ({ path: 'pages/index/index', query: {}, scene: 1001 }),
      onAppShow() {},
      onAppHide() {},
      preloadAssets() {},
      canIUse: () => true,
      request: (args: unknown) => current().request(args),
      requestPayment: (args: unknown) => current().requestPayment(args),
    };
    let app: Record<string, unknown> | undefined;
    g.App = (options: Record<string, unknown>) => {
      app = options;
    };
    g.getApp = () => app;
    g.Page = () => {
      throw new Error('no page is loaded here');
    };
    simulate = require('miniprogram-simulate');
    // The app first, as WeChat starts it: uni-app's runtime keeps the Vue app on getApp().$vm.
    require(join(build.outDir, 'app.js'));
    expect(app?.$vm).toBeTruthy();
    // WeChat's wcc, which miniprogram-compiler ships for x86-64 Linux, macOS and Windows: the JS
    // compiler of miniprogram-simulate renders uni-app's wxml but binds no handler given as data
    // (`bindtap="{{method.d}}"`), so a tap would do nothing.
    if (process.platform === 'linux' && process.arch !== 'x64')
      throw new Error(`WeChat's wxml compiler (wcc) runs on x86-64 Linux only, not ${process.arch}`);
    hostId = simulate.load(join(build.outDir, HOST), { compiler: 'official', rootPath: build.outDir });
    console.log(`mp-weixin build: ${build.ms} ms`);
  }, 180_000);

  afterEach(() => {
    for (const { host, node } of rendered.splice(0)) {
      host.set?.({ show: false });
      node.detach();
    }
    platform = undefined;
  });
  afterAll(() => {
    if (build) rmSync(build.outDir, { recursive: true, force: true });
  });

  /** The parent rendered with the cashier open, over a recorded WeChat for this render. */
  function render(
    props: Record<string, unknown>,
    handlers: Record<string, PlatformHandler>,
    serviceUrl: string,
  ) {
    platform = recordedPlatform({ serviceUrl, app: API_APP, handlers });
    const events: Host['events'] = [];
    const host: Host = {
      props: { show: true, backend: BACKEND, ...props },
      events,
      on: {
        success: (status) => events.push({ type: 'success', detail: status }),
        fail: (failure) => events.push({ type: 'fail', detail: failure }),
        cancel: () => events.push({ type: 'cancel' }),
        close: () => events.push({ type: 'close' }),
        updateShow: (show) => {
          events.push({ type: 'update:show', detail: show });
          host.set?.({ show });
        },
      },
    };
    (globalThis as Record<string, unknown>).__vkpayHost = host;
    const node = simulate.render(hostId);
    node.attach(document.createElement('parent-wrapper'));
    rendered.push({ host, node });
    const cashier = node.querySelector('.cashier');
    if (!cashier) throw new Error('the cashier component is not in its parent');
    const text = (selector: string) => cashier.querySelector(selector)?.dom.textContent ?? null;
    const texts = (selector: string) =>
      cashier.querySelectorAll(selector).map((found) => found.dom.textContent);
    /**
     * Whether an element has a class exactly (read from the DOM, where miniprogram-simulate scopes
     * each class with the component's tag, `vk-pay-cashier--`: j-component's own selectors read a
     * `--` in a class name as that scope).
     */
    const has = (className: string) => cashier.dom.querySelector(`.vk-pay-cashier--${className}`) !== null;
    /** Taps the button of a list (`method`, `action`) that is the one for `name`. */
    const tap = (list: 'method' | 'action', name: string) => {
      const found = cashier
        .querySelectorAll(`.vkpay-cashier__${list}`)
        .find((button) => button.dom.classList.contains(`vk-pay-cashier--vkpay-cashier__${list}--${name}`));
      if (!found) throw new Error(`no ${list} ${name} to tap`);
      found.dispatchEvent('tap');
    };
    return { host, cashier, events, recorded: platform, text, texts, has, tap };
  }

  describe.each(backends)('on $name', (backend) => {
    let h: WxpayHarness;
    const next = tradeNumbers('MPC');
    beforeAll(async () => {
      h = await startWxpayHarness(backend);
    });
    afterAll(async () => {
      await h?.close();
    });

    const payBody = () => ({
      out_trade_no: next(),
      total_fee: 1990,
      subject: '年度会员',
      type: 'goods',
      openid: OPENID,
    });
    /** What the service answered the backend's POST /api/payments (the pay parameters). */
    const served = (recorded: Recorded) =>
      (
        recorded.backend.find((entry) => entry.path === '/pay')!.answer as {
          data: { payment: Record<string, string> };
        }
      ).data.payment;
    /** The buyer pays in WeChat: the emulator settles the trade and calls the service back. */
    const payInWechat =
      (outTradeNo: string): PlatformHandler =>
      async () => {
        const paid = await h.control('POST', `/trades/${h.mchId}/${outTradeNo}/pay`, { openid: OPENID });
        expect(paid.status).toBe(200);
        return { ok: true, answer: { errMsg: 'requestPayment:ok' } };
      };

    it('renders the amount, subject and methods; a tap on WeChat Pay calls wx.requestPayment with what the service signed, and ends paid', async () => {
      const body = payBody();
      const view = render(
        { amount: 1990, subject: '年度会员', payBody: body },
        { requestPayment: payInWechat(body.out_trade_no) },
        h.vkPay.context.publicUrl!,
      );
      await until(() => view.text('.vkpay-cashier__amount') !== null, 'the popup');
      expect(view.text('.vkpay-cashier__title')).toBe('收银台');
      expect(view.text('.vkpay-cashier__amount')).toBe('¥19.90');
      expect(view.text('.vkpay-cashier__subject')).toBe('年度会员');
      expect(view.text('.vkpay-cashier__hint')).toBe('选择支付方式');
      expect(view.texts('.vkpay-cashier__method')).toEqual(['微信支付', '微信虚拟支付']);
      expect(view.texts('.vkpay-cashier__action')).toEqual(['取消支付']);
      expect(view.recorded.calls).toEqual([]);

      view.tap('method', 'wxpay');
      await until(() => view.text('.vkpay-cashier__result-title') !== null, 'a result');
      // The backend got the pay body through wx.request, and VK-Pay's answer went to requestPayment.
      expect(view.recorded.calls[0]).toMatchObject({
        api: 'request',
        args: { url: BACKEND.createPayment, method: 'POST', data: expect.objectContaining(body) },
      });
      const payment = served(view.recorded);
      expect(payment.scene).toBe('miniprogram');
      expect(payment.package).toMatch(/^prepay_id=wx/);
      expect(payment.timeStamp).toMatch(/^\d{10}$/);
      expect(payment.nonceStr).toBeTruthy();
      expect(payment.paySign).toBeTruthy();
      expect(platformCalls(view.recorded)).toEqual([
        {
          api: 'requestPayment',
          args: {
            provider: 'wxpay',
            timeStamp: payment.timeStamp,
            nonceStr: payment.nonceStr,
            package: payment.package,
            signType: 'RSA',
            paySign: payment.paySign,
          },
        },
      ]);
      expect(view.has('vkpay-cashier__result--paid')).toBe(true);
      expect(view.text('.vkpay-cashier__result-title')).toBe('支付成功');
      expect(view.texts('.vkpay-cashier__action')).toEqual(['关闭']);
      expect(view.events).toEqual([
        {
          type: 'success',
          detail: expect.objectContaining({ outTradeNo: body.out_trade_no, outcome: 'paid' }),
        },
      ]);
      expect((await h.vkPay.getOrder(MERCHANT, body.out_trade_no)).status).toBe('SUCCESS');

      // Closing emits close and update:show false; the parent's v-model closes the popup.
      view.tap('action', 'close');
      await until(() => view.text('.vkpay-cashier__amount') === null, 'the popup to close');
      expect(view.events.slice(1)).toEqual([{ type: 'close' }, { type: 'update:show', detail: false }]);
    });

    it("the buyer's cancel in WeChat renders the ways on; paying again from there succeeds", async () => {
      const body = payBody();
      let attempts = 0;
      const view = render(
        { amount: 1, subject: 'Test', payBody: body, lang: 'en' },
        {
          requestPayment: (args) => {
            attempts += 1;
            return attempts === 1
              ? { ok: false, answer: { errMsg: 'requestPayment:fail cancel' } }
              : payInWechat(body.out_trade_no)(args);
          },
        },
        h.vkPay.context.publicUrl!,
      );
      await until(() => view.text('.vkpay-cashier__amount') !== null, 'the popup');
      expect(view.text('.vkpay-cashier__amount')).toBe('¥0.01');
      expect(view.texts('.vkpay-cashier__method')).toEqual(['WeChat Pay', 'WeChat virtual payment']);

      view.tap('method', 'wxpay');
      await until(() => view.text('.vkpay-cashier__result-title') !== null, 'a result');
      expect(view.has('vkpay-cashier__result--failed')).toBe(true);
      expect(view.text('.vkpay-cashier__result-title')).toBe('You cancelled the payment');
      expect(view.texts('.vkpay-cashier__action')).toEqual(['Try again', 'Choose another method', 'Close']);
      expect(view.events).toMatchObject([{ type: 'fail', detail: { result: { outcome: 'cancelled' } } }]);
      expect((await h.vkPay.getOrder(MERCHANT, body.out_trade_no)).status).toBe('NOTPAY');

      view.tap('action', 'retry');
      await until(() => view.has('vkpay-cashier__result--paid'), 'paid');
      const calls = platformCalls(view.recorded);
      expect(calls.map((call) => call.api)).toEqual(['requestPayment', 'requestPayment']);
      expect(calls[1]!.args).toMatchObject({
        signType: 'RSA',
        package: expect.stringMatching(/^prepay_id=wx/),
      });
      expect(view.events.map((event) => event.type)).toEqual(['fail', 'success']);
      expect((await h.vkPay.getOrder(MERCHANT, body.out_trade_no)).status).toBe('SUCCESS');
    });
  });
});
