// The Fabric end-to-end fixture: a real `weft serve`, the Fabric test pages, subscribers, rooms
// and guest tokens made through the REST API, and one headless Chromium per participant whose
// fake microphone plays its own tone.

import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

import { Weft, freePort } from './weft.js';
import { startStaticServer } from './static-server.js';
import { launchBrowser } from './browser.js';
import { writeToneWav } from './tone.js';
import { writeColorY4m, COLORS } from './color-video.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A running weft plus the static site serving site/fabric/call.html. */
export class FabricLab {
  /**
   * `configToml` is handed to the server as its config file; `sipPort` is its SIP port (UDP and
   * TCP), else the OS picks one.
   */
  static async start({ configToml = null, sipPort = null } = {}) {
    const lab = new FabricLab();
    lab.weft = new Weft({ configToml });
    lab.weft.sipPort = sipPort;
    await lab.weft.start();
    lab.sitePort = await freePort();
    lab.site = await startStaticServer({ issuer: lab.weft.issuer, clientId: 'unused', port: lab.sitePort });
    lab.pages = [];
    return lab;
  }

  /** The Fabric test page's URL. */
  get pageUrl() {
    return `http://localhost:${this.sitePort}/fabric/call.html`;
  }

  /** A REST call that must succeed; returns the body. */
  async rest(method, path, body) {
    const res = await this.weft.api(method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** A new subscriber: its access token (from POST /api/fabric/subscribers/tokens) and address. */
  async subscriber(firstName) {
    const email = `${firstName.toLowerCase()}-${randomBytes(3).toString('hex')}@example.com`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const created = await this.weft.createSubscriber({ email, password, first_name: firstName, last_name: 'Test' });
    const { token, subscriber_id: subscriberId } = await this.rest('POST', '/api/fabric/subscribers/tokens', {
      reference: email,
      password,
    });
    const addresses = await this.rest('GET', `/api/fabric/resources/subscribers/${created.id}/addresses`);
    const address = addresses.data[0];
    return { email, password, token, subscriberId, address, resourceId: created.id };
  }

  /** Another access token for an existing subscriber. */
  async token(subscriber, extra = {}) {
    const body = await this.rest('POST', '/api/fabric/subscribers/tokens', {
      reference: subscriber.email,
      password: subscriber.password,
      ...extra,
    });
    return body.token;
  }

  /** A new video room and its address. */
  async room(name) {
    const created = await this.rest('POST', '/api/fabric/resources/conference_rooms', { name, display_name: name });
    const addresses = await this.rest('GET', `/api/fabric/resources/conference_rooms/${created.id}/addresses`);
    return { id: created.id, address: addresses.data[0] };
  }

  /** A guest token allowed to reach the given address ids. */
  async guestToken(addressIds) {
    const body = await this.rest('POST', '/api/fabric/guests/tokens', { allowed_addresses: addressIds });
    return body.token;
  }

  /**
   * A Chromium whose fake microphone plays `toneHz` (and whose fake camera shows `color`, a key
   * of COLORS, when given), on the Fabric test page. `args` adds Chromium flags.
   */
  async page(name, toneHz, { color = null, args = [] } = {}) {
    const wav = join(this.weft.workDir, `tone-${toneHz}.wav`);
    writeToneWav(wav, toneHz);
    const flags = [`--use-file-for-fake-audio-capture=${wav}`, '--autoplay-policy=no-user-gesture-required'];
    if (color) {
      const y4m = join(this.weft.workDir, `camera-${color}.y4m`);
      writeColorY4m(y4m, color);
      flags.push(`--use-file-for-fake-video-capture=${y4m}`);
    }
    const browser = await launchBrowser({ args: [...flags, ...args] });
    const page = await browser.context.newPage();
    const fp = new FabricPage(name, toneHz, browser, page, this.pageUrl);
    this.pages.push(fp);
    await fp.load();
    return fp;
  }

  /** After a failed test: every page's console tail and the end of the server's log. */
  printFailureContext() {
    for (const p of this.pages) console.log(p.tail());
    console.log(`--- weft log ---\n${this.weft.log().split('\n').slice(-60).join('\n')}`);
  }

  /** Closes every page's browser, the site and the server. */
  async stop() {
    await Promise.allSettled(this.pages.map((p) => p.close()));
    await this.site?.close();
    await this.weft?.stop();
    this.weft?.cleanup();
  }
}

/** One participant: a browser, its page and the page's console. */
export class FabricPage {
  constructor(name, toneHz, browser, page, url) {
    this.name = name;
    this.tone = toneHz;
    this.browser = browser;
    this.page = page;
    this.url = url;
    this.console = [];
    this.connectRequests = [];
    page.on('console', (m) => this.console.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => this.console.push(`[pageerror] ${e}`));
    page.on('websocket', (ws) => this.#watchSocket(ws));
  }

  /** Records each signalwire.connect the SDK sends and the server's answer to it. */
  #watchSocket(ws) {
    const parse = (payload) => {
      try {
        return JSON.parse(payload);
      } catch {
        return {};
      }
    };
    /** One line per frame for failure reports: direction, method or reply, event and Verto method. */
    const note = (dir, m) => {
      const inner = m.params?.message ?? m.params?.params;
      const what = m.method
        ? [m.method, m.params?.event_type, inner?.method, inner?.params?.cause].filter(Boolean).join(' ')
        : `reply ${JSON.stringify(m.result ?? m.error ?? null).slice(0, 160)}`;
      if (m.method !== 'signalwire.ping') this.console.push(`[ws ${dir}] ${what}`);
    };
    ws.on('framesent', ({ payload }) => {
      const m = parse(payload);
      note('>', m);
      if (m.method === 'signalwire.connect') {
        this.connectRequests.push({ id: m.id, sentProtocol: m.params?.protocol ?? null, answered: false });
      }
    });
    ws.on('framereceived', ({ payload }) => {
      const m = parse(payload);
      note('<', m);
      const c = this.connectRequests.find((r) => r.id === m.id && !r.answered);
      if (c) Object.assign(c, { answered: true, protocol: m.result?.protocol ?? null, error: m.error ?? null });
    });
  }

  /** The SDK's answered signalwire.connect requests: {sentProtocol, protocol, error}. */
  connects() {
    return this.connectRequests.filter((c) => c.answered);
  }

  /** Another tab of the same browser (its own SDK client and sessionStorage). */
  async openTab(name) {
    const tab = new FabricPage(name, this.tone, this.browser, await this.browser.context.newPage(), this.url);
    await tab.load();
    return tab;
  }

  /** Forgets the events and timings recorded so far. */
  reset() {
    return this.page.evaluate(() => {
      window.h.events = [];
      window.h.timings = {};
    });
  }

  async load() {
    await this.page.goto(this.url);
    await this.page.waitForFunction(() => window.h && window.SignalWire);
  }

  /** Calls window.h[method](...args) in the page. */
  call(method, ...args) {
    return this.page.evaluate(([m, a]) => window.h[m](...a), [method, args]);
  }

  events() {
    return this.page.evaluate(() => window.h.events);
  }

  timings() {
    return this.page.evaluate(() => window.h.timings);
  }

  stats() {
    return this.call('stats');
  }

  /** The first recorded event of `type` for which `match(params)` holds (polls until `timeoutMs`). */
  async waitEvent(type, match = () => true, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = (await this.events()).find((e) => e.type === type && match(e.params ?? {}));
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`${this.name}: no ${type} event within ${timeoutMs} ms; got ${this.eventSummary(await this.events())}`);
      }
      await sleep(100);
    }
  }

  eventSummary(events) {
    return JSON.stringify(events.map((e) => e.type));
  }

  /** Waits until the received media grows: audio bytes and decoded video frames. */
  async waitMediaFlowing({ video = true, timeoutMs = 10_000 } = {}) {
    const first = await this.stats();
    const deadline = Date.now() + timeoutMs;
    let last = first;
    while (Date.now() < deadline) {
      await sleep(300);
      last = await this.stats();
      const audio = last && first && last.audioBytes > first.audioBytes;
      const frames = !video || (last && first && last.framesDecoded > first.framesDecoded);
      if (audio && frames) return { first, last };
    }
    throw new Error(`${this.name}: media not flowing: ${JSON.stringify({ first, last })}`);
  }

  /** The COLORS key nearest to the received video's average colour (null before a frame). */
  async videoColor() {
    const rgb = await this.call('videoColor');
    if (!rgb) return null;
    const distance = (c) => COLORS[c].reduce((d, v, i) => d + (v - rgb[i]) ** 2, 0);
    return Object.keys(COLORS).sort((a, b) => distance(a) - distance(b))[0];
  }

  /** Waits until the received video shows one of `colors`; returns it. */
  async waitVideoColor(colors, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    let seen = null;
    while (Date.now() < deadline) {
      seen = await this.videoColor();
      if (colors.includes(seen)) return seen;
      await sleep(200);
    }
    throw new Error(`${this.name}: received video is ${seen}, not ${colors.join(' or ')}`);
  }

  /** The last `n` console lines (for failure messages). */
  tail(n = 40) {
    const lines = this.console.slice(-n).map((l) => (l.length > 600 ? `${l.slice(0, 600)}…` : l));
    return `--- ${this.name} console ---\n${lines.join('\n')}`;
  }

  async close() {
    await this.browser.close();
  }
}
