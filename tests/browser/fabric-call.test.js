// Issue 5, acceptance 2, 3, 4, 6 and 7: subscriber-to-subscriber calls made by the unmodified
// @signalwire/js SDK in two headless Chromiums (Alice plays 440 Hz, Bob 1100 Hz) through a
// real weft. Alice's WebSocket goes through a TCP relay the test can cut (acceptance 4); bad
// input arrives on other sockets from Node while the two talk (acceptance 7).

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { FabricLab } from './lib/fabric.js';
import { startTcpProxy } from './lib/tcp-proxy.js';
import { RawWs } from './lib/raw-ws.js';

const ALICE_HZ = 440;
const BOB_HZ = 1100;
/** The loopback address of the relay Alice's WebSocket goes through. */
const RELAY_IP = '127.0.0.2';

/** No test may hang the file. */
const LIMIT = { timeout: 60_000 };

let lab;
let alice;
let bob;
let alicePage;
let bobPage;
let relay;

before(async () => {
  lab = await FabricLab.start();
  relay = await startTcpProxy({ listenHost: RELAY_IP, targetHost: '127.0.0.1', port: lab.weft.tlsPort });
  [alice, bob] = [await lab.subscriber('Alice'), await lab.subscriber('Bob')];
  [alicePage, bobPage] = await Promise.all([
    lab.page('alice', ALICE_HZ, { args: [`--host-resolver-rules=MAP relay.${lab.weft.domain} ${RELAY_IP}`] }),
    lab.page('bob', BOB_HZ),
  ]);
  await Promise.all([alicePage.call('connect', alice.token), bobPage.call('connect', bob.token)]);
  assert.ok(relay.open >= 1, "Alice's WebSocket goes through the relay");
}, LIMIT);

afterEach(async (t) => {
  if (t.passed === false) lab?.printFailureContext();
});

after(async () => {
  await relay?.close();
  await lab?.stop();
}, LIMIT);

/** Bob dials Alice and she accepts; resolves when both calls are up. */
async function connectCall() {
  await Promise.all([alicePage.reset(), bobPage.reset()]);
  const dialing = bobPage.call('dial', alice.address.channels.video);
  const invite = await alicePage.waitEvent('invite');
  await alicePage.call('accept');
  await dialing;
  return invite;
}

/** Both pages receive growing audio (and decoded video when `video`). */
async function bothReceiveMedia({ video = false } = {}) {
  await Promise.all([alicePage.waitMediaFlowing({ video }), bobPage.waitMediaFlowing({ video })]);
}

test('Alice is online, Bob calls her, she accepts; each hears and sees the other; Bob hangs up and her call ends', LIMIT, async () => {
  await alicePage.call('online');
  const invite = await connectCall();
  assert.match(invite.params.caller_id_number ?? '', /\S/, 'the invite names the caller');
  await bothReceiveMedia({ video: true });

  // Each hears the other's tone, not its own (1:1 calls forward each side's audio).
  const [atAlice, atBob] = await Promise.all([
    alicePage.call('tones', [ALICE_HZ, BOB_HZ]),
    bobPage.call('tones', [ALICE_HZ, BOB_HZ]),
  ]);
  assert.ok(atAlice.levels[BOB_HZ] > atAlice.floor + 30, `Alice hears Bob: ${JSON.stringify(atAlice)}`);
  assert.ok(atAlice.levels[ALICE_HZ] < atAlice.levels[BOB_HZ] - 30, `Alice does not hear herself: ${JSON.stringify(atAlice)}`);
  assert.ok(atBob.levels[ALICE_HZ] > atBob.floor + 30, `Bob hears Alice: ${JSON.stringify(atBob)}`);
  assert.ok(atBob.levels[BOB_HZ] < atBob.levels[ALICE_HZ] - 30, `Bob does not hear himself: ${JSON.stringify(atBob)}`);

  await bobPage.call('hangup');
  await alicePage.waitEvent('destroy');
});

// The SDK cannot answer a BUNDLEd offer with two m-lines (fabric-protocol.md §6.3): Alice's
// invite carries audio and video on a transport each, with candidates in every section.
test("Alice's invite offers audio and video on a transport each, and both receive the other's video", LIMIT, async () => {
  const invite = await connectCall();
  try {
    const sdp = invite.params.sdp;
    assert.doesNotMatch(sdp, /a=group:BUNDLE/, 'no BUNDLE group');
    const sections = sdp.split(/\r\n(?=m=)/).slice(1);
    assert.deepEqual(sections.map((s) => s.slice(2, 7)), ['audio', 'video']);
    const ufrags = sections.map((s) => s.match(/a=ice-ufrag:(\S+)/)?.[1]);
    assert.notEqual(ufrags[0], ufrags[1], 'one ICE transport per m-line');
    for (const s of sections) assert.match(s, /a=candidate:/, 'candidates in every section');
    await bothReceiveMedia({ video: true });
  } finally {
    await bobPage.call('hangup').catch(() => {});
    await alicePage.waitEvent('destroy');
  }
});

test("the server drops Alice's WebSocket mid-call: the SDK resumes with the same protocol and media keeps flowing", LIMIT, async () => {
  // A room call, so that both send and receive audio and video.
  const room = await lab.room('huddle');
  await Promise.all([alicePage.reset(), bobPage.reset()]);
  const atAlice = await alicePage.call('dial', room.address.channels.video);
  const atBob = await bobPage.call('dial', room.address.channels.video);
  await bothReceiveMedia({ video: true });
  const connectsBefore = alicePage.connects().length;
  const dropped = relay.dropAll();
  assert.equal(dropped, 1, "the relay carried exactly Alice's WebSocket");

  // The SDK reconnects 1–4 s later and sends signalwire.connect with the protocol it had.
  const deadline = Date.now() + 10_000;
  while (alicePage.connects().length === connectsBefore && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const connects = alicePage.connects();
  assert.equal(connects.length, connectsBefore + 1, 'one new connect after the drop');
  const first = connects[0];
  const resumed = connects.at(-1);
  assert.ok(first.protocol, 'the first connect was answered with a protocol');
  assert.equal(resumed.sentProtocol, first.protocol, 'the reconnect asks to resume the same protocol');
  assert.equal(resumed.protocol, first.protocol, 'the server resumed it');
  assert.equal(relay.open, 1, 'the new WebSocket goes through the relay again');

  // The call survived: media flows both ways, and room events reach Alice's new socket.
  await bothReceiveMedia({ video: true });
  assert.ok(!(await alicePage.events()).some((e) => e.type === 'destroy'), "Alice's call was not torn down");
  await bobPage.call('hangup');
  await alicePage.waitEvent('member.left', (e) => (e.member?.member_id ?? e.member?.id) === atBob.memberId);
  await alicePage.call('hangup');
  assert.equal(atAlice.roomSessionId, atBob.roomSessionId);
});

test('bad input on other sockets gets clear JSON-RPC errors and leaves a call in progress alone', LIMIT, async () => {
  await connectCall();
  await bothReceiveMedia();
  const connectsBefore = [alicePage.connects().length, bobPage.connects().length];
  const { httpPort } = lab.weft;
  const open = () => RawWs.open('127.0.0.1', httpPort);
  const connectParams = (token) => ({
    version: { major: 4, minor: 0, revision: 0 },
    event_acks: true,
    agent: 'weft-test/raw',
    authentication: { jwt_token: token },
  });

  // Malformed frames and requests before connect: errors with the standard codes.
  const ws = await open();
  ws.sendText('{not json');
  const parse = await ws.waitFor((m) => m.error?.code === -32700);
  assert.equal(parse.id, null);
  assert.match(parse.error.message, /\S/);
  ws.sendText('[1,2,3]');
  await ws.waitFor((m) => m.error?.code === -32600);
  const before = ws.messages.length;
  ws.sendBinary([1, 2, 3]);
  await ws.waitFor((m) => ws.messages.indexOf(m) >= before && m.error?.code === -32700);
  const early = await ws.reply(ws.request('subscriber.online'));
  assert.equal(early.error.code, -32002, JSON.stringify(early));

  ws.close();

  // A wrong token, a tampered one and an expired one are refused on connect (each closes its socket).
  const refused = async (token) => {
    const conn = await open();
    const answer = await conn.reply(conn.request('signalwire.connect', connectParams(token)));
    assert.equal(answer.error?.code, -32002, JSON.stringify(answer));
    assert.match(answer.error.message, /authentication failed/i);
    assert.equal((await conn.waitClosed())?.code, 1008);
    return answer.error.message;
  };
  await refused('not-a-token');
  const fresh = await lab.token(bob);
  await refused(fresh.slice(0, -4) + (fresh.endsWith('AAAA') ? 'BBBB' : 'AAAA'));
  const shortLived = await lab.token(bob, { expire_at: Math.floor(Date.now() / 1000) + 2 });
  await new Promise((r) => setTimeout(r, 3_100));
  assert.match(await refused(shortLived), /expired/i);

  // Connected: unknown methods and bad params are errors, the session stays usable.
  const carol = await lab.subscriber('Carol');
  const session = await open();
  const ok = await session.reply(session.request('signalwire.connect', connectParams(carol.token)));
  assert.ok(ok.result?.protocol, JSON.stringify(ok));
  const unknown = await session.reply(session.request('no.such.method'));
  assert.equal(unknown.error.code, -32601, JSON.stringify(unknown));
  const badParams = await session.reply(session.request('webrtc.verto', { message: 42 }));
  assert.ok([-32602, -32600].includes(badParams.error?.code), JSON.stringify(badParams));
  const online = await session.reply(session.request('subscriber.online'));
  assert.deepEqual(online.result, {}, 'the session still works');

  // A flood (200 requests a second, ten times the sustained rate) is refused, then the socket
  // is closed.
  const isLimited = (m) => m.error?.code === -32000;
  for (let i = 0; i < 1000 && !session.closed; i++) {
    session.request('subscriber.online');
    await new Promise((r) => setTimeout(r, 5));
  }
  const limited = await session.waitFor(isLimited);
  assert.match(limited.error.message, /too many/i);
  const closed = await session.waitClosed(5_000);
  assert.equal(closed?.code, 1008, `the flooding socket is closed: ${JSON.stringify(closed)}`);

  // An oversized frame closes only that socket.
  const big = await open();
  big.sendText(JSON.stringify({ jsonrpc: '2.0', id: 'big', method: 'x', params: { pad: 'x'.repeat(1024 * 1024) } }));
  assert.ok(await big.waitClosed(5_000), 'the oversized frame closed its socket');

  // Repeated garbage closes the socket.
  const noisy = await open();
  for (let i = 0; i < 20; i++) noisy.sendText(`garbage ${i}`);
  assert.equal((await noisy.waitClosed(5_000))?.code, 1008);

  // Meanwhile Alice and Bob kept their sessions and their call.
  await bothReceiveMedia();
  assert.deepEqual([alicePage.connects().length, bobPage.connects().length], connectsBefore, 'no reconnects');
  for (const p of [alicePage, bobPage]) {
    assert.ok(!(await p.events()).some((e) => e.type === 'destroy'), `${p.name}'s call is up`);
  }
  await bobPage.call('hangup');
  await alicePage.waitEvent('destroy');
});

test("Alice rejects: Bob's call ends with USER_BUSY", LIMIT, async () => {
  await Promise.all([alicePage.reset(), bobPage.reset()]);
  const dialing = bobPage.call('dialExpectingEnd', alice.address.channels.audio, 15_000);
  await alicePage.waitEvent('invite');
  await alicePage.call('reject');
  const end = await dialing;
  assert.notEqual(end.outcome, 'timeout', JSON.stringify(end));
  assert.notEqual(end.start, 'started', JSON.stringify(end));
  assert.equal(end.cause, 'USER_BUSY', JSON.stringify(end));
  assert.equal(String(end.causeCode), '17');
});

test("Alice is offline: Bob's call ends with USER_NOT_REGISTERED", LIMIT, async () => {
  await alicePage.call('offline');
  await Promise.all([alicePage.reset(), bobPage.reset()]);
  const end = await bobPage.call('dialExpectingEnd', alice.address.channels.audio, 15_000);
  assert.notEqual(end.outcome, 'timeout', JSON.stringify(end));
  assert.equal(end.cause, 'USER_NOT_REGISTERED', JSON.stringify(end));
  assert.ok(!(await alicePage.events()).some((e) => e.type === 'invite'), 'Alice was not rung');
});

test('a guest token reaches its allowed address and nothing else', LIMIT, async () => {
  const room = await lab.room('guest-lobby');
  const guestToken = await lab.guestToken([room.address.id]);
  const guest = await bobPage.openTab('guest');
  await guest.call('connect', guestToken);

  await guest.call('connect', guestToken);
  const end = await guest.call('dialExpectingEnd', alice.address.channels.audio, 15_000);
  assert.notEqual(end.outcome, 'timeout', JSON.stringify(end));
  assert.notEqual(end.start, 'started', JSON.stringify(end));
  assert.equal(end.cause, 'OUTGOING_CALL_BARRED', JSON.stringify(end));

  await guest.reset();
  const joined = await guest.call('dial', room.address.channels.audio, { video: false });
  assert.ok(joined.memberId, `the guest joined the allowed room: ${JSON.stringify(joined)}`);
  await guest.call('hangup');
  await guest.page.close();
});
