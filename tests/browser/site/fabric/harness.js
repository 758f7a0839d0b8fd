// The Fabric test page's harness: what an application does with the SDK (connect, dial, go
// online, accept or reject, mute, hang up, reattach), plus what the tests measure in the page
// (events received, WebRTC stats, the spectrum of the received audio). Everything is reached
// through window.h from playwright; the SDK itself is used as shipped.

(() => {
  const MEMBER_EVENTS = ['member.joined', 'member.updated', 'member.left', 'member.talking'];
  const CALL_EVENTS = ['call.joined', 'room.joined', 'call.state', 'room.left', 'call.left', 'destroy'];
  const VIDEO = { width: 320, height: 240, frameRate: 15 };

  const h = {
    client: null,
    call: null,
    invite: null,
    events: [],
    timings: {},
    audio: null,
  };
  window.h = h;

  /** A JSON copy of what an event carried (SDK objects may hold cycles). */
  function plain(value) {
    try {
      return JSON.parse(JSON.stringify(value ?? null));
    } catch {
      return Object.prototype.toString.call(value);
    }
  }

  /** A readable text for whatever the SDK threw. */
  function describe(e) {
    if (e instanceof Error) return e.message;
    try {
      return JSON.stringify(e);
    } catch {
      return Object.prototype.toString.call(e);
    }
  }

  function record(type, params) {
    h.events.push({ type, at: performance.now(), params: plain(params) });
  }

  function watch(call) {
    for (const name of [...MEMBER_EVENTS, ...CALL_EVENTS]) {
      call.on(name, (params) => record(name, params));
    }
    watchPeer(call);
  }

  /** Logs the connection state changes of the call's peer connection (for failure reports). */
  function watchPeer(call, tries = 300) {
    const pc = call.peer?.instance;
    if (!pc) {
      if (tries > 0 && h.call === call) setTimeout(() => watchPeer(call, tries - 1), 100);
      return;
    }
    pc.addEventListener('connectionstatechange', () => console.info(`peer connection ${pc.connectionState}`));
  }

  h.connect = async (token) => {
    h.client = await SignalWire.SignalWire({ token });
    record('connected', null);
  };

  /** Dials `to` and waits for start(); records dial → start() resolved. */
  h.dial = async (to, { video = true, reattach = false } = {}) => {
    const t0 = performance.now();
    const params = { to, audio: true, video: video ? VIDEO : false, rootElement: document.getElementById('call') };
    const call = reattach ? await h.client.reattach(params) : await h.client.dial(params);
    h.call = call;
    watch(call);
    watchFirstFrame(t0);
    await call.start();
    h.timings.dialToStart = performance.now() - t0;
    return { memberId: call.memberId, roomSessionId: call.roomSessionId, callId: call.callId };
  };

  /** Dials `to` expecting the call to end before it starts; resolves with the bye's cause. */
  h.dialExpectingEnd = async (to, timeoutMs) => {
    const t0 = performance.now();
    let call;
    try {
      call = await h.client.dial({ to, audio: true, video: false });
    } catch (e) {
      return { outcome: `dial threw: ${describe(e)}` };
    }
    h.call = call;
    watch(call);
    const ended = new Promise((ok) => call.on('destroy', () => ok('destroyed')));
    const started = call.start().then(
      () => 'started',
      (e) => `rejected: ${describe(e)}`,
    );
    const outcome = await Promise.race([
      ended,
      started.then((s) => (s === 'started' ? s : ended)),
      new Promise((ok) => setTimeout(() => ok('timeout'), timeoutMs)),
    ]);
    const start = await Promise.race([started, 'pending']);
    return { outcome, start, cause: call.cause, causeCode: call.causeCode, ms: Math.round(performance.now() - t0) };
  };

  h.online = async () => {
    await h.client.online({
      incomingCallHandlers: {
        all: (notification) => {
          h.invite = notification.invite;
          record('invite', notification.invite.details);
        },
      },
    });
  };

  h.offline = () => h.client.offline();

  /**
   * Accepts the ringing call, with video when the invite offers it (the SDK cannot add a
   * track the offer lacks: it renegotiates the answer without end).
   */
  h.accept = async () => {
    const t0 = performance.now();
    const video = /\r\nm=video /.test(h.invite.details.sdp);
    const call = await h.invite.accept({ audio: true, video: video ? VIDEO : false, rootElement: document.getElementById('call') });
    h.call = call;
    watch(call);
    watchFirstFrame(t0);
    return { memberId: call.memberId, callId: call.callId };
  };

  h.reject = () => h.invite.reject();

  h.hangup = () => h.call.hangup();

  h.audioMute = () => h.call.audioMute();

  h.audioUnmute = () => h.call.audioUnmute();

  /** What the call's peer connection received and sent so far. */
  h.stats = async () => {
    const pc = h.call?.peer?.instance;
    if (!pc) return null;
    const out = { audioBytes: 0, audioPackets: 0, videoBytes: 0, framesDecoded: 0, sentBytes: 0, state: pc.connectionState };
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        out.audioBytes += s.bytesReceived ?? 0;
        out.audioPackets += s.packetsReceived ?? 0;
      } else if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.videoBytes += s.bytesReceived ?? 0;
        out.framesDecoded += s.framesDecoded ?? 0;
      } else if (s.type === 'outbound-rtp') {
        out.sentBytes += s.bytesSent ?? 0;
      }
    });
    return out;
  };

  /** Records the time from `t0` to the first decoded video frame. */
  function watchFirstFrame(t0) {
    const poll = async () => {
      const s = await h.stats().catch(() => null);
      if (s && s.framesDecoded > 0) {
        h.timings.firstFrame = performance.now() - t0;
        return;
      }
      if (performance.now() - t0 < 30_000) setTimeout(poll, 20);
    };
    poll();
  }

  /** The received video's average colour now, as [r, g, b]; null before the first frame. */
  h.videoColor = async () => {
    const track = h.call?.remoteStream?.getVideoTracks()[0];
    if (!track) return null;
    if (h.video?.track !== track) {
      const el = h.video?.el ?? document.createElement('video');
      el.muted = true;
      el.srcObject = new MediaStream([track]);
      el.play().catch(() => {});
      h.video = { track, el };
    }
    const { el } = h.video;
    if (!el.videoWidth) return null;
    const ctx = new OffscreenCanvas(32, 24).getContext('2d');
    ctx.drawImage(el, 0, 0, 32, 24);
    const px = ctx.getImageData(0, 0, 32, 24).data;
    const sum = [0, 0, 0];
    for (let i = 0; i < px.length; i += 4) for (let c = 0; c < 3; c++) sum[c] += px[i + c];
    return sum.map((v) => Math.round(v / (px.length / 4)));
  };

  /** An AnalyserNode on the call's received audio track (rebuilt when the track changes). */
  function analyser() {
    const track = h.call?.remoteStream?.getAudioTracks()[0];
    if (!track) throw new Error('no remote audio track');
    if (h.audio?.track === track) return h.audio.node;
    const stream = new MediaStream([track]);
    // Chromium only feeds a remote WebRTC track to WebAudio while a media element plays it.
    const el = h.audio?.el ?? document.createElement('audio');
    el.muted = true;
    el.srcObject = stream;
    el.play().catch(() => {});
    const ctx = h.audio?.ctx ?? new AudioContext({ sampleRate: 48_000 });
    ctx.resume();
    const node = ctx.createAnalyser();
    node.fftSize = 8192;
    node.smoothingTimeConstant = 0;
    ctx.createMediaStreamSource(stream).connect(node);
    h.audio = { track, el, ctx, node };
    return node;
  }

  /**
   * The received audio's level at each of `freqs` (dB, peak of ±3 bins, power-averaged over
   * `ms`) and the spectrum's median level (the floor).
   */
  h.tones = async (freqs, ms = 1200) => {
    const node = analyser();
    const bins = new Float32Array(node.frequencyBinCount);
    const power = new Float64Array(node.frequencyBinCount);
    let frames = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      node.getFloatFrequencyData(bins);
      for (let i = 0; i < bins.length; i++) power[i] += 10 ** (Math.max(bins[i], -200) / 10);
      frames++;
      await new Promise((r) => setTimeout(r, 50));
    }
    const db = Array.from(power, (p) => 10 * Math.log10(p / frames + 1e-30));
    const hzPerBin = node.context.sampleRate / node.fftSize;
    const levels = {};
    for (const f of freqs) {
      const c = Math.round(f / hzPerBin);
      levels[f] = Math.max(...db.slice(c - 3, c + 4));
    }
    const floor = [...db].sort((a, b) => a - b)[Math.floor(db.length / 2)];
    return { levels, floor, frames };
  };
})();
