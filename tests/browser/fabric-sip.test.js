// SIP acceptance 2, 3 and 4 (browser half): the unmodified @signalwire/js SDK in headless Chromium
// (Pat, whose fake microphone plays PAT_HZ) and real SIP peers on loopback through a real weft:
// baresip registered as the SIP endpoint `desk` (auto-answer, a DESK_HZ sine, recording what it
// hears), baresip as the endpoint `busy` (refuses calls: 486), and SIPp calling from a trusted
// trunk with RFC 4733 digits. Pages analyse what they hear with WebAudio, baresip's recordings
// are analysed in Node (lib/tone.js), and key presses are seen on both sides.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { FabricLab } from './lib/fabric.js';
import { freeSipPort } from './lib/weft.js';
import { Baresip } from './lib/baresip.js';
import { Sipp } from './lib/sipp.js';
import { judgeTones } from './lib/tone.js';
import { waitUntil } from './lib/child.js';

const ROOM = 'lobby';
const PAT_HZ = 700;
const DESK_HZ = 440;
/** The trunk SIPp calls from (a second loopback address). */
const TRUNK_IP = '127.0.0.2';
/** The caller id (From display name) baresip sends; the SIP member is named after it. */
const DESK_NAME = 'Front Desk';
/** How long a mix or a call's audio may take to settle. */
const AUDIO_WAIT_MS = 8_000;

/** No test may hang the file. */
const LIMIT = { timeout: 60_000 };

let lab;
let sipPort;
let room;
let pat;
let patPage;
/** The desk phone: resolves to baresip registered as the endpoint `desk` (started in `before`). */
let deskReady;
let deskAddress;
let busyAddress;
let busyPassword;
/** Every baresip started, stopped after the last test. */
const phones = [];
/** The Weft extension events (`weft.*`) Pat's page received on its signaling WebSocket. */
const weftEvents = [];

/** A SIP endpoint resource and its address. */
async function sipEndpoint(name, password) {
  const created = await lab.rest('POST', '/api/fabric/resources/sip_endpoints', {
    name,
    username: name,
    password,
    codecs: ['PCMU'],
  });
  const addresses = await lab.rest('GET', `/api/fabric/resources/sip_endpoints/${created.id}/addresses`);
  return addresses.data[0];
}

/** A baresip registered as the endpoint `user` through Weft's SIP port. */
async function phone(user, password, options) {
  const ua = new Baresip({
    workDir: lab.weft.workDir,
    user,
    password,
    domain: lab.weft.domain,
    outbound: `sip:127.0.0.1:${sipPort}`,
    regint: 600,
    ...options,
  });
  phones.push(ua);
  await ua.start();
  await ua.waitRegistered();
  return ua;
}

/** Records the `weft.*` events of the page's signaling WebSocket (the SDK ignores them). */
function watchWeftEvents(fabricPage) {
  fabricPage.page.on('websocket', (ws) =>
    ws.on('framereceived', ({ payload }) => {
      let m;
      try {
        m = JSON.parse(payload);
      } catch {
        return;
      }
      if (m.method === 'signalwire.event' && m.params?.event_type?.startsWith('weft.')) {
        weftEvents.push({ type: m.params.event_type, params: m.params.params });
      }
    }),
  );
}

before(async () => {
  sipPort = await freeSipPort();
  // The trunk's project is the bootstrap project (the default).
  const configToml = `[[sip.trunks]]\nname = "t"\ncidrs = ["${TRUNK_IP}/32"]\n`;
  lab = await FabricLab.start({ configToml, sipPort });
  room = await lab.room(ROOM);
  const deskPassword = `pw-${randomBytes(9).toString('hex')}`;
  busyPassword = `pw-${randomBytes(9).toString('hex')}`;
  deskAddress = await sipEndpoint('desk', deskPassword);
  busyAddress = await sipEndpoint('busy', busyPassword);
  pat = await lab.subscriber('Pat');
  patPage = await lab.page('pat', PAT_HZ);
  watchWeftEvents(patPage);
  await patPage.call('connect', pat.token);
  deskReady = phone('desk', deskPassword, { displayName: DESK_NAME, autoAnswer: true, toneHz: DESK_HZ });
  deskReady.catch(() => {}); // each test that needs it awaits it (and fails with its error)
}, LIMIT);

afterEach(async (t) => {
  if (t.passed === false) {
    lab?.printFailureContext();
    for (const ua of phones) console.log(`--- baresip ${ua.user} ---\n${ua.log().split('\n').slice(-40).join('\n')}`);
  }
});

after(async () => {
  await Promise.allSettled(phones.map((ua) => ua.stop()));
  await lab?.stop();
}, LIMIT);

const memberIdOf = (params) => params.member?.member_id ?? params.member?.memberId ?? params.member?.id;

/**
 * Asserts Pat's page hears the tones `present` and not `absent`, measuring again until
 * AUDIO_WAIT_MS has passed (new streams and jitter buffers settle); reports the last levels.
 */
async function assertPageHears(present, absent) {
  const deadline = Date.now() + AUDIO_WAIT_MS;
  for (;;) {
    const heard = await patPage.call('tones', [...present, ...absent]);
    const { missing, extra } = judgeTones(heard, present, absent);
    if (missing.length === 0 && extra.length === 0) return;
    if (Date.now() > deadline) {
      const hz = (list) => (list.length ? `${list.join(', ')} Hz` : 'none');
      assert.fail(`Pat's page after ${AUDIO_WAIT_MS} ms: missing ${hz(missing)}, unwanted ${hz(extra)}; levels ${JSON.stringify(heard)}`);
    }
  }
}

/** Pat joins the lobby; resolves to the SDK's {memberId, roomSessionId, callId}. */
async function patJoinsLobby() {
  await patPage.reset();
  return patPage.call('dial', room.address.channels.video);
}

/** Hangs up Pat's call if one is up (after a failed step), ignoring the SDK's complaints. */
async function patHangsUpQuietly() {
  await patPage.call('hangup').catch(() => {});
}

test('a SIP phone calls the room: each hears the other, the page sees it join (named after the caller id) and leave', LIMIT, async () => {
  const desk = await deskReady;
  const joined = await patJoinsLobby();
  try {
    const known = desk.recordings();
    const from = desk.events().length;
    await desk.dial(`sip:${ROOM}@${lab.weft.domain}`);
    await desk.waitEvent('CALL_ESTABLISHED', { from });

    const seen = await patPage.waitEvent('member.joined', (e) => memberIdOf(e) !== joined.memberId);
    const sipMember = seen.params.member;
    assert.equal(sipMember.name, DESK_NAME, `the SIP member is named after the caller id: ${JSON.stringify(sipMember)}`);

    await assertPageHears([DESK_HZ], [PAT_HZ]);
    await desk.waitHears(known, [PAT_HZ], [DESK_HZ], { timeoutMs: AUDIO_WAIT_MS });

    await desk.hangup();
    await desk.waitEvent('CALL_CLOSED', { from });
    await patPage.waitEvent('member.left', (e) => memberIdOf(e) === memberIdOf(seen.params));
  } finally {
    await desk.hangup().catch(() => {});
    await patHangsUpQuietly();
  }
});

test('the SDK calls the SIP endpoint: baresip answers, audio both ways, digits reach it as RFC 4733; the SDK hangs up and the phone sees the call close', LIMIT, async () => {
  const desk = await deskReady;
  const known = desk.recordings();
  const from = desk.events().length;
  await patPage.reset();
  try {
    await patPage.call('dial', deskAddress.channels.audio, { video: false });
    await desk.waitEvent('CALL_ESTABLISHED', { from });

    await assertPageHears([DESK_HZ], [PAT_HZ]);
    await desk.waitHears(known, [PAT_HZ], [DESK_HZ], { timeoutMs: AUDIO_WAIT_MS });

    await patPage.page.evaluate((digits) => window.h.call.sendDigits(digits), '1#');
    const digits = await desk.waitEvents('CALL_DTMF_START', 2, { from });
    assert.deepEqual(digits.map((e) => e.param), ['1', '#']);

    await patPage.call('hangup');
    await desk.waitEvent('CALL_CLOSED', { from });
  } finally {
    await patHangsUpQuietly();
  }
});

test('the SDK calls the SIP endpoint and the phone hangs up: the SDK call ends', LIMIT, async () => {
  const desk = await deskReady;
  const from = desk.events().length;
  await patPage.reset();
  try {
    await patPage.call('dial', deskAddress.channels.audio, { video: false });
    await desk.waitEvent('CALL_ESTABLISHED', { from });
    await patPage.waitMediaFlowing({ video: false });
    assert.ok(!(await patPage.events()).some((e) => e.type === 'destroy'), 'the call is up before the phone hangs up');
    await desk.hangup();
    await patPage.waitEvent('destroy');
    await desk.waitEvent('CALL_CLOSED', { from });
  } finally {
    await patHangsUpQuietly();
  }
});

test('SIPp calls the room from a trusted trunk and presses 1 and #: the page gets weft.dtmf events', LIMIT, async () => {
  const joined = await patJoinsLobby();
  const seenBefore = weftEvents.length;
  const sipp = new Sipp({
    workDir: lab.weft.workDir,
    scenario: 'invite_pcap',
    target: `127.0.0.1:${sipPort}`,
    ip: TRUNK_IP,
    service: ROOM,
    keys: { domain: lab.weft.domain, from_user: 'carrier' },
  });
  try {
    await sipp.start();
    const seen = await patPage.waitEvent('member.joined', (e) => memberIdOf(e) !== joined.memberId, 15_000);
    const sipMemberId = memberIdOf(seen.params);

    const dtmf = () => weftEvents.slice(seenBefore).filter((e) => e.type === 'weft.dtmf');
    await waitUntil(
      () => dtmf().map((e) => e.params.digits).join('').length >= 2,
      15_000,
      'two digits in weft.dtmf events',
      () => `weft events: ${JSON.stringify(weftEvents.slice(seenBefore))}\n${sipp.summary()}`,
    );
    const events = dtmf();
    assert.equal(events.map((e) => e.params.digits).join(''), '1#', JSON.stringify(events));
    for (const { params } of events) {
      assert.equal(params.member_id, sipMemberId, `the digits name the SIP member: ${JSON.stringify(params)}`);
      assert.equal(params.room_session_id, joined.roomSessionId, JSON.stringify(params));
      assert.match(String(params.call_id ?? ''), /\S/, JSON.stringify(params));
      assert.ok(params.duration_ms > 0, `an RFC 4733 digit has a duration: ${JSON.stringify(params)}`);
    }

    assert.equal(await sipp.wait(20_000), 0, sipp.summary());
    await patPage.waitEvent('member.left', (e) => memberIdOf(e) === sipMemberId);
  } finally {
    await sipp.stop();
    await patHangsUpQuietly();
  }
});

test("the SDK calls a SIP endpoint whose phone is busy (486): the SDK's call ends with USER_BUSY", LIMIT, async () => {
  // baresip without auto-answer refuses a ringing call with "486 Rejected" when it hangs up.
  const busy = await phone('busy', busyPassword, { autoAnswer: false, record: false });
  await patPage.reset();
  const ending = patPage.call('dialExpectingEnd', busyAddress.channels.audio, 15_000);
  await busy.waitEvent('CALL_INCOMING');
  await busy.hangup();
  const end = await ending;
  assert.notEqual(end.outcome, 'timeout', JSON.stringify(end));
  assert.notEqual(end.start, 'started', JSON.stringify(end));
  assert.equal(end.cause, 'USER_BUSY', JSON.stringify(end));
  assert.equal(String(end.causeCode), '17');
  assert.ok(!busy.events().some((e) => e.type === 'CALL_ESTABLISHED'), 'the busy phone never answered');
});
