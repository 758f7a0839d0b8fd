// Issue 5, acceptance 1, 5 and 8: three subscribers in three headless Chromiums, each with the
// unmodified @signalwire/js SDK and a fake microphone playing its own tone, join one video
// room through a real weft. Each page analyses the audio it receives with WebAudio, and tells
// whose video it receives by its colour (each fake camera shows one).

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { FabricLab } from './lib/fabric.js';

/** Tones far from each other and from each other's harmonics; one camera colour each. */
const PEOPLE = [
  { name: 'Ann', hz: 500, color: 'red' },
  { name: 'Ben', hz: 850, color: 'green' },
  { name: 'Cat', hz: 1300, color: 'blue' },
];
const ALL_HZ = PEOPLE.map((p) => p.hz);
/** A tone is heard when it stands this far above the spectrum's median (the floor). */
const PRESENT_DB = 25;
/** A tone is absent when it stays this far below the weakest tone heard (1/1000 of its power). */
const ABSENT_DB = 30;
/** How long a mix may take to settle after a change. */
const MIX_WAIT_MS = 6_000;

/** No test may hang the file. */
const LIMIT = { timeout: 90_000 };

let lab;
let room;
let people;

before(async () => {
  lab = await FabricLab.start();
  room = await lab.room('standup');
  people = [];
  for (const p of PEOPLE) {
    const sub = await lab.subscriber(p.name);
    people.push({ ...p, sub, page: null, memberId: null });
  }
  await Promise.all(
    people.map(async (p) => {
      p.page = await lab.page(p.name, p.hz, { color: p.color });
      await p.page.call('connect', p.sub.token);
    }),
  );
}, LIMIT);

afterEach(async (t) => {
  if (t.passed === false) lab?.printFailureContext();
});

after(async () => {
  await lab?.stop();
}, LIMIT);

const byName = (name) => people.find((p) => p.name === name);
const others = (p, list = people) => list.filter((o) => o !== p);
const memberIdOf = (params) => params.member?.member_id ?? params.member?.memberId ?? params.member?.id;

/**
 * Asserts `listener` hears the tones of `present` and not those of `absent`. Mixes settle (new
 * streams, jitter buffers, a mute reaching the mixer), so it measures again until `MIX_WAIT_MS`
 * has passed and reports the last measurement.
 */
async function assertMix(listener, present, absent) {
  const deadline = Date.now() + MIX_WAIT_MS;
  for (;;) {
    const heard = await listener.page.call('tones', ALL_HZ);
    const weakest = Math.min(...present.map((p) => heard.levels[p.hz]));
    const missing = present.filter((p) => !(heard.levels[p.hz] > heard.floor + PRESENT_DB));
    const extra = absent.filter((p) => !(heard.levels[p.hz] < weakest - ABSENT_DB));
    if (missing.length === 0 && extra.length === 0) return;
    if (Date.now() > deadline) {
      const names = (list) => list.map((p) => `${p.name} (${p.hz} Hz)`).join(', ') || 'none';
      assert.fail(
        `${listener.name}'s mix after ${MIX_WAIT_MS} ms: missing ${names(missing)}, unwanted ${names(extra)}; ` +
          `levels ${JSON.stringify(heard)}`,
      );
    }
  }
}

test('three subscribers join the room: member events, mix-minus audio, voice-activated video', LIMIT, async () => {
  for (const p of people) {
    p.joined = await p.page.call('dial', room.address.channels.video);
    p.memberId = p.joined.memberId;
    assert.ok(p.memberId, `${p.name} has a member id: ${JSON.stringify(p.joined)}`);
  }
  assert.equal(new Set(people.map((p) => p.joined.roomSessionId)).size, 1, 'one room session');

  // Everyone sees member.joined for those who came after them; the later joiners find the
  // earlier ones in the room session they joined.
  for (const [i, p] of people.entries()) {
    for (const later of people.slice(i + 1)) {
      await p.page.waitEvent('member.joined', (e) => memberIdOf(e) === later.memberId);
    }
    const joined = await p.page.waitEvent('room.joined');
    const listed = (joined.params.room_session?.members ?? joined.params.room?.members ?? []).map((m) => m.member_id ?? m.id);
    for (const earlier of people.slice(0, i)) {
      assert.ok(listed.includes(earlier.memberId), `${p.name} finds ${earlier.name} in the room: ${JSON.stringify(listed)}`);
    }
  }

  // Received video decodes in every page; audio arrives.
  await Promise.all(people.map((p) => p.page.waitMediaFlowing()));

  // Mix-minus: every page hears the two others and not itself.
  for (const p of people) await assertMix(p, others(p), [p]);

  // Voice-activated video: everyone receives the video of someone else, never their own.
  for (const p of people) await p.page.waitVideoColor(others(p).map((o) => o.color));

  // Talking is announced: every page gets member.talking events, and knows every other member
  // (each plays a steady tone) as talking, from those events or, for members already talking
  // when it joined, from the member list of its call.joined.
  for (const p of people) {
    await p.page.waitEvent('member.talking', (e) => e.member?.talking === true);
    const known = new Set();
    for (const e of await p.page.events()) {
      if (e.type === 'member.talking' && e.params.member?.talking === true) known.add(memberIdOf(e.params));
      if (e.type === 'call.joined') {
        for (const m of e.params.room_session?.members ?? []) if (m.talking === true) known.add(m.member_id);
      }
    }
    for (const o of others(p)) {
      assert.ok(known.has(o.memberId), `${p.name} knows ${o.name} is talking: ${JSON.stringify([...known])}`);
    }
  }

  // Acceptance 8: join time and time to first decoded frame, as the pages measured them (the
  // first member decodes nothing until someone else joins, so only later joiners count).
  for (const [i, p] of people.entries()) {
    const t = await p.page.timings();
    assert.ok(t.dialToStart > 0 && t.firstFrame > 0, `${p.name} timings: ${JSON.stringify(t)}`);
    const frame = i === 0 ? 'n/a (alone in the room)' : `${t.firstFrame.toFixed(0)} ms`;
    console.log(
      `join time: ${p.name} (member ${i + 1} of the room): dial → start() resolved ${t.dialToStart.toFixed(0)} ms, ` +
        `dial → first decoded frame ${frame}`,
    );
  }
});

test('Cat mutes her audio: the others get member.updated with audio_muted, her tone leaves their mix; the video follows the talker', LIMIT, async () => {
  const cat = byName('Cat');
  await Promise.all(people.map((p) => p.page.reset()));
  await cat.page.call('audioMute');
  for (const p of others(cat)) {
    const e = await p.page.waitEvent('member.updated', (e) => memberIdOf(e) === cat.memberId && (e.member?.updated ?? []).includes('audio_muted'));
    assert.equal(e.params.member.audio_muted ?? e.params.member.audioMuted, true, JSON.stringify(e.params));
  }
  for (const p of others(cat)) await assertMix(p, others(p, others(cat)), [p, cat]);

  // The video follows the talker: with Ben muted as well, only Ann talks, and Ben and Cat
  // receive her video. Ben then unmutes.
  const [ann, ben] = [byName('Ann'), byName('Ben')];
  await ben.page.call('audioMute');
  await ann.page.waitEvent('member.updated', (e) => memberIdOf(e) === ben.memberId && e.member.audio_muted === true);
  await Promise.all([ben.page.waitVideoColor([ann.color]), cat.page.waitVideoColor([ann.color])]);
  await ben.page.call('audioUnmute');
  await ann.page.waitEvent('member.updated', (e) => memberIdOf(e) === ben.memberId && e.member.audio_muted === false);
});

test('Ben reloads his page and reattaches: he stays in the room', LIMIT, async () => {
  const ben = byName('Ben');
  const ann = byName('Ann');
  await Promise.all(people.map((p) => p.page.reset()));
  await ben.page.page.reload();
  await ben.page.page.waitForFunction(() => window.h && window.SignalWire);
  await ben.page.call('connect', ben.sub.token);
  const connects = ben.page.connects();
  assert.equal(connects.at(-1).sentProtocol, connects[0].protocol, 'the reloaded page resumes its session');
  assert.equal(connects.at(-1).protocol, connects[0].protocol);
  const back = await ben.page.call('dial', room.address.channels.video, { reattach: true });
  assert.equal(back.memberId, ben.memberId, `Ben keeps his member id: ${JSON.stringify(back)}`);
  assert.equal(back.roomSessionId, ben.joined.roomSessionId, 'in the same room session');
  await ben.page.waitMediaFlowing();
  await assertMix(ben, [ann], [ben]);
  await assertMix(ann, [ben], [ann]);
  const annSaw = await ann.page.events();
  assert.ok(
    !annSaw.some((e) => e.type === 'member.left' && memberIdOf(e.params) === ben.memberId),
    'Ann never saw Ben leave',
  );
});

test('Cat leaves: the others get member.left', LIMIT, async () => {
  const cat = byName('Cat');
  await cat.page.call('hangup');
  for (const p of others(cat)) {
    await p.page.waitEvent('member.left', (e) => memberIdOf(e) === cat.memberId);
  }
});
