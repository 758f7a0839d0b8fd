// SWML acceptance 1 (an IVR): the unmodified @signalwire/js SDK in headless Chromium dials a SWML
// script through a real weft. The script answers, plays a 700 Hz WAV that a local HTTP server
// serves (loopback is allowed by `[swml] fetch_allow`), prompts for one digit while playing it,
// and switches: `1` connects the caller to a video room where another browser member waits,
// `2` hangs up with reason busy. Pages analyse what they hear with WebAudio.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { FabricLab } from './lib/fabric.js';
import { writeToneWav, judgeTones } from './lib/tone.js';

const ROOM = 'ivr-lobby';
const IVR_HZ = 700;
const CALLER_HZ = 500;
const MEMBER_HZ = 440;
/** The higher tone of the US ringback (440 + 480 Hz). */
const RING_HZ = 480;
/** How long a call's audio may take to settle. */
const AUDIO_WAIT_MS = 8_000;
/** No test may hang the file. */
const LIMIT = { timeout: 60_000 };

let lab;
let media;
let mediaUrl;
let script;
let room;
let caller;
let callerPage;
let member;
let memberPage;
/** Requests the media server got, by path. */
const fetched = [];

/** The IVR, in YAML as an operator would write it; `3` rings the subscriber at `person`. */
function ivr(url, person) {
  return `
version: 1.0.0
sections:
  main:
    - answer: {}
    - prompt:
        play: ${url}
        max_digits: 1
        initial_timeout: 30
    - switch:
        variable: prompt_value
        case:
          "1":
            - connect:
                to: /public/${ROOM}
          "2":
            - hangup:
                reason: busy
          "3":
            - connect:
                to: ${person}
                timeout: 30
        default:
          - hangup: {}
`;
}

before(async () => {
  lab = await FabricLab.start({ configToml: '[swml]\nfetch_allow = ["127.0.0.0/8"]\n' });
  const wav = join(lab.weft.workDir, 'ivr-700.wav');
  writeToneWav(wav, IVR_HZ, 0.3, 20);
  const body = readFileSync(wav);
  media = createServer((req, res) => {
    fetched.push(req.url);
    res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': body.length });
    res.end(body);
  });
  await new Promise((ok) => media.listen(0, '127.0.0.1', ok));
  mediaUrl = `http://127.0.0.1:${media.address().port}/ivr-700.wav`;
  room = await lab.room(ROOM);
  caller = await lab.subscriber('Casey');
  member = await lab.subscriber('Morgan');
  const person = member.address.channels.audio.split('?')[0];
  const created = await lab.rest('POST', '/api/fabric/resources/swml_scripts', { name: 'ivr', contents: ivr(mediaUrl, person) });
  const addresses = await lab.rest('GET', `/api/fabric/resources/swml_scripts/${created.id}/addresses`);
  script = addresses.data[0];
  callerPage = await lab.page('casey', CALLER_HZ);
  memberPage = await lab.page('morgan', MEMBER_HZ);
  await callerPage.call('connect', caller.token);
  await memberPage.call('connect', member.token);
}, LIMIT);

afterEach(async (t) => {
  if (t.passed === false) lab?.printFailureContext();
});

after(async () => {
  await lab?.stop();
  await new Promise((ok) => (media ? media.close(ok) : ok()));
}, LIMIT);

const memberIdOf = (params) => params.member?.member_id ?? params.member?.memberId ?? params.member?.id;

/** A tone is heard only above this level (dB), whatever the floor: digital silence has a floor far below. */
const AUDIBLE_DB = -100;

/** Asserts `page` hears `present` and not `absent`, measuring again until AUDIO_WAIT_MS has passed. */
async function assertHears(page, present, absent) {
  const deadline = Date.now() + AUDIO_WAIT_MS;
  for (;;) {
    const heard = await page.call('tones', [...present, ...absent]);
    const judged = judgeTones(heard, present, absent);
    const missing = [...judged.missing, ...present.filter((f) => !judged.missing.includes(f) && !(heard.levels[f] > AUDIBLE_DB))];
    const { extra } = judged;
    if (missing.length === 0 && extra.length === 0) return;
    if (Date.now() > deadline) {
      const hz = (list) => (list.length ? `${list.join(', ')} Hz` : 'none');
      assert.fail(`${page.name} after ${AUDIO_WAIT_MS} ms: missing ${hz(missing)}, unwanted ${hz(extra)}; levels ${JSON.stringify(heard)}`);
    }
  }
}

const sendDigits = (page, digits) => page.page.evaluate((d) => window.h.call.sendDigits(d), digits);

test('the IVR plays its WAV; pressing 1 puts the caller in the room, where it and the member hear each other', LIMIT, async () => {
  await memberPage.reset();
  const joined = await memberPage.call('dial', room.address.channels.video);
  await callerPage.reset();
  try {
    await callerPage.call('dial', script.channels.audio, { video: false });
    await assertHears(callerPage, [IVR_HZ], [MEMBER_HZ]);
    assert.ok(fetched.includes('/ivr-700.wav'), `the WAV was fetched: ${JSON.stringify(fetched)}`);

    await sendDigits(callerPage, '1');
    const seen = await memberPage.waitEvent('member.joined', (e) => memberIdOf(e) !== joined.memberId, 15_000);
    assert.equal(seen.params.member.name, 'Casey Test', JSON.stringify(seen.params.member));
    await assertHears(callerPage, [MEMBER_HZ], [IVR_HZ]);
    await assertHears(memberPage, [CALLER_HZ], [IVR_HZ]);
  } finally {
    await callerPage.call('hangup').catch(() => {});
    await memberPage.call('hangup').catch(() => {});
  }
});

test('pressing 2 makes the IVR hang up busy: the caller\'s call ends with USER_BUSY', LIMIT, async () => {
  await callerPage.reset();
  try {
    await callerPage.call('dial', script.channels.audio, { video: false });
    await assertHears(callerPage, [IVR_HZ], []);
    await sendDigits(callerPage, '2');
    await callerPage.waitEvent('destroy', () => true, 15_000);
    const cause = await callerPage.page.evaluate(() => ({ cause: window.h.call.cause, code: window.h.call.causeCode }));
    assert.equal(cause.cause, 'USER_BUSY', JSON.stringify(cause));
  } finally {
    await callerPage.call('hangup').catch(() => {});
  }
});

test('pressing 3 rings a subscriber: the caller hears ringback, then the subscriber answers and each hears the other', LIMIT, async () => {
  await Promise.all([callerPage.reset(), memberPage.reset()]);
  await memberPage.call('online');
  try {
    await callerPage.call('dial', script.channels.audio, { video: false });
    await assertHears(callerPage, [IVR_HZ], []);
    await sendDigits(callerPage, '3');
    const invite = await memberPage.waitEvent('invite', () => true, 15_000);
    assert.match(JSON.stringify(invite.params), /Casey/, `the invite names the caller: ${JSON.stringify(invite.params)}`);
    // The US ring cadence is 440 + 480 Hz: 480 Hz tells it from the member's 440 Hz tone.
    await assertHears(callerPage, [RING_HZ], [IVR_HZ]);
    await memberPage.call('accept');
    await assertHears(callerPage, [MEMBER_HZ], [RING_HZ, IVR_HZ]);
    await assertHears(memberPage, [CALLER_HZ], [IVR_HZ]);
  } finally {
    await callerPage.call('hangup').catch(() => {});
    await memberPage.call('hangup').catch(() => {});
  }
});
