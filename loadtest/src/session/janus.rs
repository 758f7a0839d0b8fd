//! The same synthetic peers against Janus's VideoRoom (for the side-by-side benchmark): each peer
//! is one Janus session over the HTTP API (create, attach `janus.plugin.videoroom`, long-poll GETs
//! for events, which also keep the session alive). A publisher `joinandconfigure`s with its offer
//! and gets Janus's answer; a subscriber `join`s as `subscriber` to its room's publishers, answers
//! Janus's offer and sends `start`. Candidates travel inline in the SDP, followed by a `trickle`
//! `{completed: true}`. At the end the session is destroyed.

use std::collections::HashMap;
use std::net::{IpAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use super::{Context, JoinRecord, PeerJob, ms, ns_since};
use crate::http::{HttpUrl, request};
use crate::media::{MediaPeer, Milestones, PendingMedia};

/// Pause between checks for a room's publishers, and between subscriber join attempts.
const RETRY_EVERY: Duration = Duration::from_millis(100);
/// The VideoRoom's error code for a feed that does not exist or has no media yet.
const NO_SUCH_FEED: u64 = 428;
/// How long the session's destroy may take at the end.
const DESTROY_WAIT: Duration = Duration::from_secs(3);

/// A Janus server and the rooms of this run.
pub struct JanusTarget {
    base: HttpUrl,
    local_ip: IpAddr,
    publishers: usize,
    /// Per room index: the feed ids of its publishers that joined.
    feeds: Mutex<HashMap<usize, Vec<u64>>>,
}

impl JanusTarget {
    /// A target at `url` (`http://host:port/janus`), with `publishers` per room. Peers bind to
    /// this host's address towards Janus (Janus's ICE never pairs with loopback candidates).
    pub fn new(url: &str, publishers: usize) -> Result<Self> {
        let base = HttpUrl::parse(url)?;
        let probe = UdpSocket::bind(("0.0.0.0", 0))?;
        probe
            .connect(&base.authority)
            .with_context(|| format!("no route to {}", base.authority))?;
        Ok(Self {
            base,
            local_ip: probe.local_addr()?.ip(),
            publishers,
            feeds: Mutex::default(),
        })
    }

    /// Creates a VideoRoom (VP8 + Opus, no bitrate cap, room for every publisher) and returns its
    /// id (as the peers' room address).
    pub async fn create_room(&self, name: &str) -> Result<String> {
        let mut s = Session::open(&self.base)
            .await
            .map_err(anyhow::Error::msg)?;
        let body = json!({
            "request": "create",
            "description": name,
            "publishers": self.publishers.max(1),
            "videocodec": "vp8",
            "audiocodec": "opus",
            "bitrate": 0,
            "fir_freq": 0,
        });
        let reply = s
            .post_handle(json!({"janus": "message", "body": body}))
            .await;
        s.destroy().await;
        let data = plugin_data(&reply.map_err(anyhow::Error::msg)?);
        if let Some(e) = plugin_error(&data) {
            bail!("creating a Janus room: {e}");
        }
        match data["room"].as_u64() {
            Some(room) => Ok(room.to_string()),
            None => bail!("creating a Janus room: no room id in {data}"),
        }
    }

    fn note_feed(&self, room: usize, feed: u64) {
        if let Ok(mut feeds) = self.feeds.lock() {
            feeds.entry(room).or_default().push(feed);
        }
    }

    /// The room's publisher feeds once all of them joined.
    fn all_feeds(&self, room: usize) -> Option<Vec<u64>> {
        let feeds = self.feeds.lock().ok()?;
        feeds
            .get(&room)
            .filter(|f| f.len() >= self.publishers)
            .cloned()
    }
}

/// Runs one peer against Janus until the run stops; returns what its signaling did.
pub async fn run_peer(ctx: Arc<Context>, target: Arc<JanusTarget>, job: PeerJob) -> JoinRecord {
    let mut record = JoinRecord::start(&job, ctx.epoch);
    let deadline = tokio::time::Instant::now() + ctx.join_timeout;
    let joined = tokio::time::timeout_at(deadline, join(&ctx, &target, &job, &mut record)).await;
    let session = match joined {
        Ok(Ok(session)) => Some(session),
        Ok(Err((e, session))) => {
            record.error = Some(e);
            session
        }
        Err(_) => {
            record.error = Some("join timed out".into());
            None
        }
    };
    ctx.settled.fetch_add(1, Ordering::Relaxed);
    if record.error.is_some() {
        ctx.failed.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(mut session) = session {
        if record.error.is_none() {
            stay(&ctx, &mut session, &mut record).await;
        }
        record.hung_up = tokio::time::timeout(DESTROY_WAIT, session.destroy())
            .await
            .unwrap_or(false);
    }
    record
}

type JoinError = (String, Option<Session>);

/// Session, handle, and the publisher's or subscriber's SDP exchange up to the media hand-off.
async fn join(
    ctx: &Context,
    target: &JanusTarget,
    job: &PeerJob,
    record: &mut JoinRecord,
) -> Result<Session, JoinError> {
    let t = Instant::now();
    let mut s = Session::open(&target.base).await.map_err(|e| (e, None))?;
    record.phases.connect = Some(ms(t.elapsed()));
    record.call_id = Some(format!("janus session {} handle {}", s.session, s.handle));
    let room: u64 = match job.address.parse() {
        Ok(room) => room,
        Err(_) => return Err((format!("bad Janus room {:?}", job.address), Some(s))),
    };
    let outcome = if job.plan.publish {
        publish(ctx, target, job, room, &mut s, record).await
    } else {
        subscribe(ctx, target, job, room, &mut s, record).await
    };
    match outcome {
        Ok(()) => Ok(s),
        Err(e) => Err((e, Some(s))),
    }
}

async fn publish(
    ctx: &Context,
    target: &JanusTarget,
    job: &PeerJob,
    room: u64,
    s: &mut Session,
    record: &mut JoinRecord,
) -> Result<(), String> {
    let (pending, offer) =
        PendingMedia::offer(job.plan.clone(), target.local_ip, ctx.driver.cert())?;
    let invited = Instant::now();
    let body = json!({
        "request": "joinandconfigure",
        "room": room,
        "ptype": "publisher",
        "display": format!("loadtest-{}", job.plan.id),
        "audio": job.plan.audio,
        "video": job.plan.video,
    });
    s.message(body, Some(json!({"type": "offer", "sdp": offer})))
        .await?;
    let event = s.plugin_event(record).await?;
    let data = plugin_data(&event);
    if let Some(e) = plugin_error(&data) {
        return Err(format!("joinandconfigure: {e}"));
    }
    let answer = jsep_sdp(&event, "answer").ok_or("joinandconfigure: no answer")?;
    record.phases.invite_to_answer = Some(ms(invited.elapsed()));
    let milestones = Arc::new(Milestones::default());
    let peer = pending.accept(answer, ctx.epoch, milestones.clone())?;
    hand_off(ctx, record, peer, milestones);
    s.trickle_completed().await?;
    record.phases.invite_to_joined = Some(ms(invited.elapsed()));
    record.joined = true;
    if let Some(feed) = data["id"].as_u64() {
        target.note_feed(job.room, feed);
    }
    Ok(())
}

async fn subscribe(
    ctx: &Context,
    target: &JanusTarget,
    job: &PeerJob,
    room: u64,
    s: &mut Session,
    record: &mut JoinRecord,
) -> Result<(), String> {
    let feeds = loop {
        match target.all_feeds(job.room) {
            Some(feeds) => break feeds,
            None => tokio::time::sleep(RETRY_EVERY).await,
        }
    };
    let streams: Vec<Value> = feeds.iter().map(|f| json!({"feed": f})).collect();
    let invited = Instant::now();
    let body = json!({"request": "join", "room": room, "ptype": "subscriber", "streams": streams});
    // A publisher's feed exists once its answer is out, but Janus refuses subscriptions to it
    // (428) until its media is up: retry until then (the join timeout bounds it).
    let event = loop {
        s.message(body.clone(), None).await?;
        let event = s.plugin_event(record).await?;
        let data = plugin_data(&event);
        match plugin_error(&data) {
            None => break event,
            Some(_) if data["error_code"] == NO_SUCH_FEED => tokio::time::sleep(RETRY_EVERY).await,
            Some(e) => return Err(format!("join as subscriber: {e}")),
        }
    };
    let offer = jsep_sdp(&event, "offer").ok_or("join as subscriber: no offer")?;
    record.phases.invite_to_answer = Some(ms(invited.elapsed()));
    let milestones = Arc::new(Milestones::default());
    let (peer, answer) = MediaPeer::answer(
        job.plan.clone(),
        target.local_ip,
        ctx.driver.cert(),
        offer,
        ctx.epoch,
        milestones.clone(),
    )?;
    s.message(
        json!({"request": "start"}),
        Some(json!({"type": "answer", "sdp": answer})),
    )
    .await?;
    hand_off(ctx, record, peer, milestones);
    s.trickle_completed().await?;
    loop {
        let event = s.plugin_event(record).await?;
        let data = plugin_data(&event);
        if let Some(e) = plugin_error(&data) {
            return Err(format!("start: {e}"));
        }
        if data["started"] == "ok" {
            break;
        }
    }
    record.phases.invite_to_joined = Some(ms(invited.elapsed()));
    record.joined = true;
    Ok(())
}

fn hand_off(ctx: &Context, record: &mut JoinRecord, peer: MediaPeer, milestones: Arc<Milestones>) {
    record.handed_off = Some(ns_since(ctx.epoch));
    record.milestones = Some(milestones);
    ctx.driver.add(peer);
}

/// Long-polls (which keeps the session alive) until the run stops or Janus hangs the peer up.
async fn stay(ctx: &Context, s: &mut Session, record: &mut JoinRecord) {
    let mut stop = ctx.stop.clone();
    while !*stop.borrow() {
        tokio::select! {
            events = s.poll() => match events {
                Ok(events) => {
                    record.events += events.len() as u64;
                    ctx.events.fetch_add(events.len() as u64, Ordering::Relaxed);
                    if let Some(e) = events.iter().find(|e| e["janus"] == "hangup") {
                        record.server_bye = Some(e["reason"].as_str().unwrap_or("hangup").to_owned());
                        return;
                    }
                }
                Err(e) => {
                    record.server_bye = Some(e);
                    return;
                }
            },
            _ = stop.changed() => {}
        }
    }
}

/// One Janus session with one VideoRoom handle.
struct Session {
    base: HttpUrl,
    session: u64,
    handle: u64,
    transactions: u64,
}

impl Session {
    /// Creates a session and attaches the VideoRoom plugin.
    async fn open(base: &HttpUrl) -> Result<Self, String> {
        let mut s = Self {
            base: base.clone(),
            session: 0,
            handle: 0,
            transactions: 0,
        };
        let created = s.post(&base.path, json!({"janus": "create"})).await?;
        s.session = created["data"]["id"]
            .as_u64()
            .ok_or("create: no session id")?;
        let path = s.session_path();
        let attached = s
            .post(
                &path,
                json!({"janus": "attach", "plugin": "janus.plugin.videoroom"}),
            )
            .await?;
        s.handle = attached["data"]["id"]
            .as_u64()
            .ok_or("attach: no handle id")?;
        Ok(s)
    }

    fn session_path(&self) -> String {
        format!("{}/{}", self.base.path.trim_end_matches('/'), self.session)
    }

    /// POSTs `body` (with a new transaction) to `path`; a Janus `error` is an error.
    async fn post(&mut self, path: &str, mut body: Value) -> Result<Value, String> {
        self.transactions += 1;
        body["transaction"] = json!(format!("lt{}", self.transactions));
        let url = self.base.with_path(path);
        let (status, bytes) = request("POST", &url, None, Some(&body))
            .await
            .map_err(|e| format!("{}: {e:#}", body["janus"]))?;
        let reply: Value = serde_json::from_slice(&bytes)
            .map_err(|_| format!("{}: HTTP {status}, not JSON", body["janus"]))?;
        if reply["janus"] == "error" {
            return Err(format!("{}: {}", body["janus"], reply["error"]));
        }
        Ok(reply)
    }

    async fn post_handle(&mut self, body: Value) -> Result<Value, String> {
        let path = format!("{}/{}", self.session_path(), self.handle);
        self.post(&path, body).await
    }

    /// A plugin request (Janus acks it; the outcome comes as an event).
    async fn message(&mut self, body: Value, jsep: Option<Value>) -> Result<(), String> {
        let mut msg = json!({"janus": "message", "body": body});
        if let Some(jsep) = jsep {
            msg["jsep"] = jsep;
        }
        self.post_handle(msg).await.map(drop)
    }

    async fn trickle_completed(&mut self) -> Result<(), String> {
        self.post_handle(json!({"janus": "trickle", "candidate": {"completed": true}}))
            .await
            .map(drop)
    }

    /// One long poll: the session's next events (none on Janus's keepalive timeout).
    async fn poll(&self) -> Result<Vec<Value>, String> {
        let url = self
            .base
            .with_path(&format!("{}?maxev=10", self.session_path()));
        let (status, bytes) = request("GET", &url, None, None)
            .await
            .map_err(|e| format!("long poll: {e:#}"))?;
        let reply: Value = serde_json::from_slice(&bytes)
            .map_err(|_| format!("long poll: HTTP {status}, not JSON"))?;
        Ok(events_of(reply))
    }

    /// Waits for the handle's next plugin event (counting every event into `record`); Janus
    /// hanging the handle up is an error.
    async fn plugin_event(&mut self, record: &mut JoinRecord) -> Result<Value, String> {
        loop {
            for event in self.poll().await? {
                record.events += 1;
                if event["sender"].as_u64() != Some(self.handle) {
                    continue;
                }
                match event["janus"].as_str() {
                    Some("event") => return Ok(event),
                    Some("hangup") => {
                        return Err(format!("Janus hung up: {}", event["reason"]));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Destroys the session (and its handle); whether Janus confirmed.
    async fn destroy(&mut self) -> bool {
        let path = self.session_path();
        self.post(&path, json!({"janus": "destroy"})).await.is_ok()
    }
}

/// A long poll's reply as a list of events (`maxev` > 1 gives an array; a timeout, a keepalive).
fn events_of(reply: Value) -> Vec<Value> {
    match reply {
        Value::Array(events) => events,
        Value::Object(_) if reply["janus"] == "keepalive" => Vec::new(),
        other => vec![other],
    }
}

/// `plugindata.data` of a plugin reply or event.
fn plugin_data(reply: &Value) -> Value {
    reply["plugindata"]["data"].clone()
}

/// The VideoRoom's error in `data`, if any.
fn plugin_error(data: &Value) -> Option<String> {
    data.get("error")
        .map(|e| format!("{} ({})", e.as_str().unwrap_or("?"), data["error_code"]))
}

/// The SDP of an event's `jsep` of the given type.
fn jsep_sdp<'a>(event: &'a Value, kind: &str) -> Option<&'a str> {
    let jsep = event.get("jsep")?;
    (jsep["type"] == kind).then(|| jsep["sdp"].as_str())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_janus_replies() {
        assert!(events_of(json!({"janus": "keepalive"})).is_empty());
        assert_eq!(
            events_of(json!([{"janus": "event"}, {"janus": "webrtcup"}])).len(),
            2
        );
        assert_eq!(events_of(json!({"janus": "event"})).len(), 1);

        let joined = json!({
            "janus": "event", "sender": 7,
            "plugindata": {"plugin": "janus.plugin.videoroom",
                           "data": {"videoroom": "joined", "id": 42}},
            "jsep": {"type": "answer", "sdp": "v=0"},
        });
        assert_eq!(plugin_data(&joined)["id"], 42);
        assert_eq!(plugin_error(&plugin_data(&joined)), None);
        assert_eq!(jsep_sdp(&joined, "answer"), Some("v=0"));
        assert_eq!(jsep_sdp(&joined, "offer"), None);

        let failed = json!({"plugindata": {"data": {
            "videoroom": "event", "error_code": 428, "error": "No such feed"}}});
        assert_eq!(
            plugin_error(&plugin_data(&failed)).as_deref(),
            Some("No such feed (428)")
        );
        assert_eq!(jsep_sdp(&failed, "offer"), None);
    }
}
