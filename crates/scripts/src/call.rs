//! One script call: the script is loaded, run by `weft-swml`'s interpreter, and each of its
//! actions carried out here. The script's voice is a source member of the media engine, added
//! when the script answers; key presses arrive as the controller's `weft.dtmf` events; the
//! caller hanging up ends the script wherever it is.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::{Instrument, info, info_span, warn};
use weft_calls::media::{RemoteMedia, RtpCodec, SourceSpot};
use weft_calls::{Cause, Command, FrontEvent, Ring};
use weft_core::Address;
use weft_fetch::{Method, Request as FetchRequest};
use weft_media::{AudioSource, MemberId, RoomId};
use weft_playback::Speech;
use weft_swml::interp::{
    Connect, Direction, HangupReason, HttpMethod, Play, Prompt, Record, RecordCall, Request,
    Response, Say,
};
use weft_swml::prompt::DigitCollector;
use weft_swml::{Action, Document, Ending, Interpreter, Outcome, Scope};

use crate::frames::{self, FrameKey, Frames};
use crate::front::ScriptsEnv;
use crate::recording::{self, Background, CallerAudio, Foreground, Listener, Stop, Writer};
use crate::store::{RecordingRow, ScriptBody};

/// What the caller hears while `connect` rings someone, unless the script names a `ringback`:
/// one 6 s cycle of the ring cadence (encoded and cached once), repeated [`RING_CYCLES`] times.
const RING_CYCLE: &str = "ring:6";
/// Ring cycles played at most: 10 minutes.
const RING_CYCLES: usize = 100;
/// The longest wait for the controller to confirm an answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// The caller hung up (or the controller ended the script's leg): the script stops.
#[derive(Debug)]
struct Over;

/// Why a player task stopped before the end.
enum PlayerError {
    /// A URL could not be loaded or encoded.
    Sound(String),
    /// The script's source member is gone (its call ended).
    VoiceGone,
}

/// How a play ended.
enum Played {
    /// Every URL played.
    Done,
    /// A key press stopped it.
    Interrupted,
    /// A URL could not be played.
    Failed(String),
}

/// One call's script.
pub struct ScriptCall {
    env: Arc<ScriptsEnv>,
    ring: Ring,
    spot: SourceSpot,
    events: UnboundedReceiver<FrontEvent>,
    voice: Option<Arc<AudioSource>>,
    recordings: Vec<Background>,
    caller_audio: Option<CallerAudio>,
    over: bool,
}

impl ScriptCall {
    /// The call of `ring`, whose source member goes to `spot` and whose leg's events arrive on
    /// `events`.
    pub fn new(
        env: Arc<ScriptsEnv>,
        ring: Ring,
        spot: SourceSpot,
        events: UnboundedReceiver<FrontEvent>,
    ) -> Self {
        Self {
            env,
            ring,
            spot,
            events,
            voice: None,
            recordings: Vec::new(),
            caller_audio: None,
            over: false,
        }
    }

    /// Runs the script to its end, then makes sure the leg is gone.
    pub async fn run(mut self) {
        let span = info_span!("script", call_id = %self.ring.leg, resource_id = %self.ring.endpoint, room_id = %self.spot.room);
        async move {
            let observer = self.env.observer.clone();
            observer.started();
            let ending = match self.load().await {
                Ok(mut interp) => {
                    let ending = self.execute(&mut interp).await;
                    observer.ended(interp.steps_by_method());
                    ending
                }
                Err(reason) => {
                    warn!(%reason, "the script could not be loaded");
                    observer.error("load_failed");
                    observer.ended(&Default::default());
                    Some(Cause::NormalTemporaryFailure)
                }
            };
            if !self.over {
                self.hang_up(ending.unwrap_or(Cause::NormalClearing));
            }
        }
        .instrument(span)
        .await
    }

    /// The interpreter for this call's script (a webhook's is fetched first).
    async fn load(&mut self) -> Result<Interpreter, String> {
        let body = self
            .env
            .store
            .load(&self.ring.project_id, &self.ring.endpoint)
            .await?;
        let scope = self.scope();
        let document = match body {
            ScriptBody::Swml(document) => document,
            ScriptBody::Webhook(url) => self.fetch_document(&url, &scope.payload()).await?,
        };
        Ok(Interpreter::new(document, scope, self.env.limits))
    }

    /// The variables the script starts with.
    fn scope(&self) -> Scope {
        let (codec, kind) = match self.spot.codec {
            RtpCodec::Opus => ("OPUS", "webrtc"),
            RtpCodec::Pcmu => ("PCMU", "sip"),
            RtpCodec::Pcma => ("PCMA", "sip"),
        };
        Scope {
            call: json!({
                "call_id": self.ring.leg,
                "node_id": "weft",
                "segment_id": self.ring.leg,
                "call_state": "created",
                "direction": "inbound",
                "type": kind,
                "from": self.ring.caller.1,
                "from_name": self.ring.caller.0,
                "to": self.ring.callee.1,
                "to_name": self.ring.callee.0,
                "project_id": self.ring.project_id,
                "resource_id": self.ring.endpoint,
                "codec": codec,
                "headers": [],
            }),
            params: Value::Object(Default::default()),
            vars: Default::default(),
            envs: Value::Object(Default::default()),
        }
    }

    /// Runs the interpreter to its end; the cause to hang up with, if the call is still up.
    async fn execute(&mut self, interp: &mut Interpreter) -> Option<Cause> {
        loop {
            let action = interp.next_action();
            let failure = failure_reason(&action);
            let outcome = match action {
                Action::Finished { ending } => return self.finished(&ending),
                action => self.act(action).await,
            };
            match outcome {
                Ok(outcome) => {
                    if matches!(outcome, Outcome::Failed { .. }) {
                        self.env.observer.error(failure);
                    }
                    interp.resume(outcome)
                }
                Err(Over) => {
                    info!("the call ended while the script ran");
                    return None;
                }
            }
        }
    }

    /// Logs how the script ended.
    fn finished(&self, ending: &Ending) -> Option<Cause> {
        match ending {
            Ending::End | Ending::Returned(_) | Ending::Hangup(_) => {
                info!(ending = %ending, "script finished");
                None
            }
            Ending::StepLimit(_) | Ending::DepthLimit(_) | Ending::Error(_) => {
                warn!(ending = %ending, "script stopped");
                self.env.observer.error(match ending {
                    Ending::StepLimit(_) => "step_limit",
                    Ending::DepthLimit(_) => "depth_limit",
                    _ => "script_error",
                });
                Some(Cause::NormalTemporaryFailure)
            }
        }
    }

    /// Carries out one action.
    async fn act(&mut self, action: Action) -> Result<Outcome, Over> {
        match action {
            Action::Answer { .. } => Ok(match self.answer().await? {
                Ok(()) => Outcome::Done,
                Err(reason) => Outcome::Failed { reason },
            }),
            Action::Hangup { reason } => {
                let cause = match reason {
                    HangupReason::Hangup => Cause::NormalClearing,
                    HangupReason::Busy => Cause::UserBusy,
                    HangupReason::Decline => Cause::CallRejected,
                };
                self.hang_up(cause);
                Ok(Outcome::Done)
            }
            Action::Play(play) => self.play_action(&play).await,
            Action::Prompt(prompt) => self.prompt(&prompt).await,
            Action::Sleep { duration } => {
                self.wait(duration).await?;
                Ok(Outcome::Done)
            }
            Action::SendDigits { digits } => {
                self.send_digits(&digits).await?;
                Ok(Outcome::Done)
            }
            Action::Connect(connect) => self.connect(&connect).await,
            Action::JoinRoom { name } => {
                let to = format!("/public/{name}");
                self.connect_to(&[(to, None)], &[]).await
            }
            Action::Request(request) => Ok(self.request(&request).await),
            Action::Fetch { url, payload } => Ok(match self.fetch_document(&url, &payload).await {
                Ok(document) => Outcome::Document(document),
                Err(reason) => Outcome::Failed { reason },
            }),
            Action::Record(record) => self.record(&record).await,
            Action::RecordCall(record) => self.record_call(&record).await,
            Action::StopRecordCall { control_id } => {
                self.stop_recording(control_id.as_deref()).await;
                Ok(Outcome::Done)
            }
            Action::UserEvent { event } => {
                self.env.calls.command(Command::UserEvent {
                    leg: self.ring.leg.clone(),
                    event,
                });
                Ok(Outcome::Done)
            }
            Action::Denoise | Action::StopDenoise => Ok(Outcome::Done),
            Action::Unsupported { method } => {
                info!(%method, "a method Weft does not run was skipped");
                Ok(Outcome::Done)
            }
            Action::Finished { .. } => Ok(Outcome::Done),
        }
    }

    /// Answers the call (once): adds the script's voice to the call's room and tells the
    /// controller, then waits for the caller to be connected.
    async fn answer(&mut self) -> Result<Result<(), String>, Over> {
        if self.voice.is_some() {
            return Ok(Ok(()));
        }
        let source = self
            .env
            .engine
            .add_source(
                &RoomId::from(self.spot.room.as_str()),
                &MemberId::from(self.spot.member.as_str()),
                self.spot.codec.into(),
            )
            .await;
        let source = match source {
            Ok(source) => Arc::new(source),
            Err(e) => return Ok(Err(format!("the script's voice could not join: {e}"))),
        };
        self.voice = Some(source);
        self.env.calls.command(Command::Answer {
            leg: self.ring.leg.clone(),
            media: RemoteMedia::Source,
        });
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            tokio::select! {
                event = self.events.recv() => match event {
                    Some(FrontEvent::Answered { .. }) => return Ok(Ok(())),
                    other => self.note(other)?,
                },
                () = sleep_until(deadline) => return Ok(Err("the call was not connected in time".into())),
            }
        }
    }

    /// Handles an event that the current action does not wait for; `Over` when the call ended.
    fn note(&mut self, event: Option<FrontEvent>) -> Result<(), Over> {
        match event {
            None | Some(FrontEvent::Ended { .. }) => {
                self.over = true;
                Err(Over)
            }
            Some(_) => Ok(()),
        }
    }

    /// The keys of a `weft.dtmf` event.
    fn digits_of(event: &FrontEvent) -> Option<String> {
        match event {
            FrontEvent::Event {
                event_type, params, ..
            } if *event_type == weft_calls::DTMF_EVENT => {
                params["digits"].as_str().map(str::to_owned)
            }
            _ => None,
        }
    }

    async fn play_action(&mut self, play: &Play) -> Result<Outcome, Over> {
        if play.auto_answer
            && let Err(reason) = self.answer().await?
        {
            return Ok(Outcome::Failed { reason });
        }
        Ok(
            match self
                .play(&play.urls, play.volume, &play.say, |_| false)
                .await?
            {
                Played::Done | Played::Interrupted => Outcome::Done,
                Played::Failed(reason) => {
                    warn!(%reason, "play failed");
                    Outcome::Failed { reason }
                }
            },
        )
    }

    /// Plays `urls` in order; `on_digit` sees each key pressed meanwhile and says whether it
    /// stops the play.
    async fn play(
        &mut self,
        urls: &[String],
        volume: f64,
        say: &Say,
        mut on_digit: impl FnMut(char) -> bool,
    ) -> Result<Played, Over> {
        let Some(voice) = self.voice.clone() else {
            return Ok(Played::Failed("the call is not answered".into()));
        };
        let speech = Speech {
            voice: Some(say.voice.clone()),
            language: Some(say.language.clone()),
        };
        let mut player = self.start_player(&voice, urls, volume, speech);
        loop {
            tokio::select! {
                result = &mut player => {
                    return match result {
                        Ok(Ok(())) => Ok(Played::Done),
                        Ok(Err(PlayerError::Sound(reason))) => Ok(Played::Failed(reason)),
                        // The source went with the call: the call is over, not the play failed.
                        Ok(Err(PlayerError::VoiceGone)) => Err(Over),
                        Err(e) => Ok(Played::Failed(format!("the player stopped: {e}"))),
                    };
                }
                event = self.events.recv() => {
                    if let Some(digits) = event.as_ref().and_then(Self::digits_of)
                        && digits.chars().any(&mut on_digit)
                    {
                        player.abort();
                        voice.clear();
                        return Ok(Played::Interrupted);
                    }
                    if let Err(over) = self.note(event) {
                        player.abort();
                        return Err(over);
                    }
                }
            }
        }
    }

    /// Plays `urls` in order into `voice` on a task of its own (aborted to stop it).
    fn start_player(
        &self,
        voice: &Arc<AudioSource>,
        urls: &[String],
        volume: f64,
        speech: Speech,
    ) -> JoinHandle<Result<(), PlayerError>> {
        let env = self.env.clone();
        let urls = urls.to_vec();
        let codec = self.spot.codec;
        let voice = voice.clone();
        tokio::spawn(async move {
            for url in &urls {
                let frames = sound(&env, url, codec, volume, &speech)
                    .await
                    .map_err(PlayerError::Sound)?;
                for frame in frames.iter() {
                    voice
                        .send(frame.clone())
                        .await
                        .map_err(|_| PlayerError::VoiceGone)?;
                }
            }
            Ok(())
        })
    }

    /// `prompt`: plays while collecting digits; a key press stops the play.
    async fn prompt(&mut self, prompt: &Prompt) -> Result<Outcome, Over> {
        if let Err(reason) = self.answer().await? {
            return Ok(Outcome::Failed { reason });
        }
        let playing = !prompt.play.is_empty();
        let mut collector = DigitCollector::new(prompt, playing, Instant::now().into_std());
        let mut done = None;
        if playing {
            let played = self
                .play(&prompt.play, prompt.volume, &prompt.say, |digit| {
                    if done.is_none() {
                        done = collector.on_digit(digit, Instant::now().into_std());
                    }
                    true
                })
                .await?;
            if let Played::Failed(reason) = &played {
                warn!(%reason, "the prompt's play failed; collecting digits anyway");
            }
            collector.play_finished(Instant::now().into_std());
        }
        if let Some(outcome) = done {
            return Ok(outcome);
        }
        loop {
            let deadline = collector.deadline().map(Instant::from_std);
            tokio::select! {
                () = async { sleep_until(deadline.unwrap_or_else(Instant::now)).await }, if deadline.is_some() => {
                    if let Some(outcome) = collector.on_time(Instant::now().into_std()) {
                        return Ok(outcome);
                    }
                }
                event = self.events.recv() => {
                    if let Some(digits) = event.as_ref().and_then(Self::digits_of) {
                        for digit in digits.chars() {
                            if let Some(outcome) = collector.on_digit(digit, Instant::now().into_std()) {
                                return Ok(outcome);
                            }
                        }
                        continue;
                    }
                    self.note(event)?;
                }
            }
        }
    }

    /// Waits `duration` (`None`: until the call ends).
    async fn wait(&mut self, duration: Option<Duration>) -> Result<(), Over> {
        let deadline = duration.map(|d| Instant::now() + d);
        loop {
            tokio::select! {
                () = async { sleep_until(deadline.unwrap_or_else(Instant::now)).await }, if deadline.is_some() => return Ok(()),
                event = self.events.recv() => self.note(event)?,
            }
        }
    }

    /// `send_digits`: the keys go to the caller (RFC 4733 on SIP, `weft.dtmf` to browsers);
    /// `w` waits half a second and `W` a second.
    async fn send_digits(&mut self, digits: &str) -> Result<(), Over> {
        let mut run = String::new();
        for c in digits.chars().chain(std::iter::once('\0')) {
            let pause = match c {
                'w' => Some(Duration::from_millis(500)),
                'W' => Some(Duration::from_secs(1)),
                '\0' => Some(Duration::ZERO),
                c if weft_swml::dtmf::is_key(c.to_ascii_uppercase()) => {
                    run.push(c.to_ascii_uppercase());
                    None
                }
                _ => None,
            };
            if let Some(pause) = pause {
                if !run.is_empty() {
                    self.env.calls.command(Command::Dtmf {
                        leg: self.ring.leg.clone(),
                        digits: std::mem::take(&mut run),
                    });
                }
                if !pause.is_zero() {
                    self.wait(Some(pause)).await?;
                }
            }
        }
        Ok(())
    }

    /// `connect`: the destinations are tried in order (of a parallel group, the first).
    async fn connect(&mut self, connect: &Connect) -> Result<Outcome, Over> {
        let destinations: Vec<(String, Option<Duration>)> = connect
            .dial
            .iter()
            .filter_map(|group| group.first())
            .map(|d| (d.to.clone(), Some(d.timeout.unwrap_or(connect.timeout))))
            .collect();
        if connect.dial.iter().any(|group| group.len() > 1) {
            info!("connect rings the first destination of each parallel group, in turn");
        }
        self.connect_to(&destinations, &connect.ringback).await
    }

    /// Hands the caller on to the first of `destinations` (each with how long it may ring)
    /// that takes it, playing `ringback` (a ring tone when empty) meanwhile; the script's leg
    /// then ends (`Over`).
    async fn connect_to(
        &mut self,
        destinations: &[(String, Option<Duration>)],
        ringback: &[String],
    ) -> Result<Outcome, Over> {
        if let Err(reason) = self.answer().await? {
            return Ok(Outcome::Failed { reason });
        }
        let mut reason = String::from("nothing to connect to");
        for (to, timeout) in destinations {
            let Ok(address) = Address::parse(to) else {
                reason = format!("{to} is not a Fabric address this server can connect to");
                continue;
            };
            self.env.calls.command(Command::Connect {
                leg: self.ring.leg.clone(),
                to: address,
                timeout: *timeout,
            });
            let ringing = self.voice.clone().map(|voice| {
                let ring = vec![String::from(RING_CYCLE); RING_CYCLES];
                let urls = if ringback.is_empty() {
                    &ring[..]
                } else {
                    ringback
                };
                (
                    self.start_player(&voice, urls, 0.0, Speech::default()),
                    voice,
                )
            });
            let failed = loop {
                match self.events.recv().await {
                    Some(FrontEvent::ConnectFailed { cause, .. }) => break Ok(cause),
                    event => {
                        if let Err(over) = self.note(event) {
                            break Err(over);
                        }
                    }
                }
            };
            if let Some((player, voice)) = ringing {
                player.abort();
                voice.clear();
            }
            reason = format!("{to}: {}", failed?.name());
        }
        info!(%reason, "connect failed");
        Ok(Outcome::Failed { reason })
    }

    /// `request`.
    async fn request(&self, request: &Request) -> Outcome {
        let method = match request.method {
            HttpMethod::Get => Method::Get,
            HttpMethod::Post => Method::Post,
            HttpMethod::Put => Method::Put,
            HttpMethod::Delete => Method::Delete,
        };
        let mut fetch = FetchRequest::new(method, request.url.clone());
        fetch.headers = request.headers.clone();
        if let Some(body) = &request.body {
            let has_type = fetch
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
            if !has_type {
                let json = matches!(body.trim_start().chars().next(), Some('{' | '['));
                let kind = if json {
                    "application/json"
                } else {
                    "text/plain"
                };
                fetch.headers.push(("content-type".into(), kind.into()));
            }
            fetch.body = Some(body.clone().into_bytes().into());
        }
        fetch.timeout = Some(request.timeout);
        fetch.connect_timeout = Some(request.connect_timeout);
        match self.env.fetcher.fetch(fetch).await {
            Ok(response) => Outcome::Response(Response {
                status: response.status,
                headers: response.headers,
                body: response.body.to_vec(),
            }),
            Err(e) => {
                warn!(error = %e, "request failed");
                Outcome::Failed {
                    reason: e.to_string(),
                }
            }
        }
    }

    /// POSTs `payload` to `url` and parses the answer as SWML.
    async fn fetch_document(&self, url: &str, payload: &Value) -> Result<Document, String> {
        let mut fetch = FetchRequest::new(Method::Post, url.to_owned());
        fetch
            .headers
            .push(("content-type".into(), "application/json".into()));
        fetch.body = Some(payload.to_string().into_bytes().into());
        let response = self
            .env
            .fetcher
            .fetch(fetch)
            .await
            .map_err(|e| e.to_string())?;
        if !(200..300).contains(&response.status) {
            return Err(format!("{url} answered {}", response.status));
        }
        let text = std::str::from_utf8(&response.body)
            .map_err(|_| format!("the SWML from {url} is not UTF-8"))?;
        Document::parse(text).map_err(|e| format!("the SWML from {url} is invalid: {e}"))
    }

    /// `record_call`: records what the caller says in the background.
    async fn record_call(&mut self, record: &RecordCall) -> Result<Outcome, Over> {
        if let Err(reason) = self.answer().await? {
            return Ok(Outcome::Failed { reason });
        }
        if record.direction != Direction::Speak {
            info!(direction = ?record.direction, "record_call records what the caller says");
        }
        let (writer, listener) = match self.start_recording().await {
            Ok(started) => started,
            Err(reason) => {
                warn!(%reason, "record_call failed");
                return Ok(Outcome::Failed { reason });
            }
        };
        let url = writer.url.clone();
        let control_id = record
            .control_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        info!(%control_id, %url, "recording the call");
        self.recordings
            .push(Background::spawn(control_id.clone(), writer, listener));
        Ok(Outcome::RecordingStarted { control_id, url })
    }

    /// `stop_record_call`: the recording `control_id`, or the most recent one.
    async fn stop_recording(&mut self, control_id: Option<&str>) {
        let at = match control_id {
            Some(id) => self.recordings.iter().position(|r| r.control_id == id),
            None => self.recordings.len().checked_sub(1),
        };
        if let Some(at) = at {
            self.recordings.remove(at).stop().await;
        }
    }

    /// `record`: a voicemail-style recording of the caller, after an optional beep.
    async fn record(&mut self, record: &Record) -> Result<Outcome, Over> {
        if let Err(reason) = self.answer().await? {
            return Ok(Outcome::Failed { reason });
        }
        if record.beep
            && let Some(voice) = self.voice.clone()
            && let Ok(beep) = frames::beep(self.media_codec())
        {
            for frame in beep.iter() {
                if voice.send(frame.clone()).await.is_err() {
                    break;
                }
            }
        }
        let (writer, listener) = match self.start_recording().await {
            Ok(started) => started,
            Err(reason) => {
                warn!(%reason, "record failed");
                return Ok(Outcome::Failed { reason });
            }
        };
        let mut recording = Foreground::new(
            writer,
            listener,
            record.initial_timeout,
            record.end_silence_timeout,
            record.max_length,
        );
        let stop = loop {
            tokio::select! {
                stop = recording.step() => if let Some(stop) = stop { break stop },
                event = self.events.recv() => {
                    if let Some(digits) = event.as_ref().and_then(Self::digits_of)
                        && digits.chars().any(|d| record.terminators.contains(d))
                    {
                        break Stop::Terminator;
                    }
                    if self.note(event).is_err() {
                        recording.finish().await;
                        return Err(Over);
                    }
                }
            }
        };
        let url = recording.finish().await;
        info!(?stop, %url, "recorded");
        Ok(Outcome::Recorded { url })
    }

    /// A new recording of the caller: its file and row, and a listener to the caller's audio
    /// (tapped on the first recording of the call).
    async fn start_recording(&mut self) -> Result<(Writer, Listener), String> {
        if self.caller_audio.is_none() {
            self.caller_audio = Some(CallerAudio::tap(&self.env, &self.spot.party_member).await?);
        }
        let listener = match &self.caller_audio {
            Some(audio) => audio.listen(),
            None => return Err("the caller's audio is not tapped".into()),
        };
        let writer = Writer::start(&self.env, self.media_codec(), self.recording_row()).await?;
        Ok((writer, listener))
    }

    /// The row of a new recording of the caller's leg.
    fn recording_row(&self) -> RecordingRow {
        recording::row(
            &self.ring.project_id,
            &self.spot.party_leg,
            &self.ring.endpoint,
            self.media_codec(),
        )
    }

    fn media_codec(&self) -> weft_media::RtpCodec {
        self.spot.codec.into()
    }

    /// Ends the script's leg (and with it the call, unless the caller was handed on).
    fn hang_up(&mut self, cause: Cause) {
        self.over = true;
        self.env.calls.command(Command::Hangup {
            leg: self.ring.leg.clone(),
            cause,
        });
    }
}

/// The `weft_swml_errors_total` reason of an action that fails.
fn failure_reason(action: &Action) -> &'static str {
    match action {
        Action::Answer { .. } => "answer_failed",
        Action::Play(_) => "play_failed",
        Action::Prompt(_) => "prompt_failed",
        Action::Connect(_) | Action::JoinRoom { .. } => "connect_failed",
        Action::Request(_) => "request_failed",
        Action::Fetch { .. } => "fetch_failed",
        Action::Record(_) | Action::RecordCall(_) => "record_failed",
        _ => "method_failed",
    }
}

/// The frames of one play URL in `codec`, from the cache or loaded and encoded.
async fn sound(
    env: &ScriptsEnv,
    url: &str,
    codec: RtpCodec,
    volume: f64,
    speech: &Speech,
) -> Result<Frames, String> {
    let key_url = if url.starts_with("say:") {
        format!(
            "{url}\u{0}{}\u{0}{}",
            speech.voice.as_deref().unwrap_or_default(),
            speech.language.as_deref().unwrap_or_default()
        )
    } else {
        url.to_owned()
    };
    let media_codec = weft_media::RtpCodec::from(codec);
    let key = FrameKey::new(&key_url, media_codec, volume);
    if let Some(frames) = env.frames.get(&key, Instant::now().into_std()) {
        return Ok(frames);
    }
    let pcm = env
        .loader
        .load(url, speech, frames::sample_rate(media_codec))
        .await
        .map_err(|e| e.to_string())?;
    let frames = tokio::task::spawn_blocking(move || frames::encode(&pcm, media_codec, volume))
        .await
        .map_err(|e| format!("encoding stopped: {e}"))?
        .map_err(|e| e.to_string())?;
    env.frames
        .insert(key, frames.clone(), Instant::now().into_std());
    Ok(frames)
}
