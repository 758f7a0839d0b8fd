//! The thin tokio shell: one task runs the [`Controller`], resolves addresses and runs media
//! requests (a room's requests in order, on one of a few workers), and delivers each front-end's
//! events on its own channel.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::{Instant, sleep_until, timeout};
use weft_core::Address;

use crate::controller::{
    CallsSnapshot, Command, Controller, ControllerConfig, FrontEvent, FrontId, OpId, Output,
};
use crate::directory::{DirectoryError, Resolver, Target};
use crate::media::{Media, MediaCall, MediaEvent, MediaFailure, MediaResult};

/// Longest wait for a directory answer.
const DIRECTORY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for one media request.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(6);
/// How often the controller's state is reported to the observer.
const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(1);
/// Media requests run on this many workers; a room's requests always go to the same one.
const MEDIA_WORKERS: usize = 8;

/// Receives the controller's counts; implemented by the server with its metrics registry.
pub trait CallsObserver: Send + Sync + 'static {
    /// A leg joined its video room `elapsed` after it dialled.
    fn joined(&self, elapsed: Duration);
    /// The controller's state, reported about once a second.
    fn snapshot(&self, snapshot: &CallsSnapshot);
}

/// Reports nothing.
impl CallsObserver for () {
    fn joined(&self, _: Duration) {}
    fn snapshot(&self, _: &CallsSnapshot) {}
}

enum Input {
    Attach {
        front: FrontId,
        tx: UnboundedSender<FrontEvent>,
    },
    Command(Command),
    Resolved {
        op: OpId,
        result: Result<Option<Target>, DirectoryError>,
    },
    Media {
        op: OpId,
        result: MediaResult,
    },
    MediaEvent(MediaEvent),
}

/// A running controller; cheap to clone. Front-ends [`attach`](Calls::attach) and send
/// [`command`](Calls::command)s.
#[derive(Clone)]
pub struct Calls {
    tx: UnboundedSender<Input>,
}

impl Calls {
    /// Starts the controller task on the current tokio runtime.
    pub fn start<R: Resolver, M: Media>(
        cfg: ControllerConfig,
        resolver: Arc<R>,
        media: Arc<M>,
        observer: Arc<dyn CallsObserver>,
    ) -> Self {
        let (tx, rx) = unbounded_channel();
        let workers = MediaWorkers::start(media, &tx);
        tokio::spawn(run(
            Controller::new(cfg),
            rx,
            tx.clone(),
            resolver,
            workers,
            observer,
        ));
        Self { tx }
    }

    /// Registers a front-end: the events for its legs arrive on the returned channel. Attach
    /// before sending commands.
    pub fn attach(&self, front: FrontId) -> UnboundedReceiver<FrontEvent> {
        let (tx, rx) = unbounded_channel();
        let _ = self.tx.send(Input::Attach { front, tx });
        rx
    }

    /// Hands the controller a front-end's command.
    pub fn command(&self, command: Command) {
        let _ = self.tx.send(Input::Command(command));
    }

    /// Reports an event of the media engine.
    pub fn media_event(&self, event: MediaEvent) {
        let _ = self.tx.send(Input::MediaEvent(event));
    }
}

async fn run<R: Resolver>(
    mut controller: Controller,
    mut rx: UnboundedReceiver<Input>,
    tx: UnboundedSender<Input>,
    resolver: Arc<R>,
    media: MediaWorkers,
    observer: Arc<dyn CallsObserver>,
) {
    let mut fronts: HashMap<FrontId, UnboundedSender<FrontEvent>> = HashMap::new();
    let mut snapshots = tokio::time::interval(SNAPSHOT_INTERVAL);
    snapshots.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = controller.next_deadline().map(Instant::from_std);
        let input = tokio::select! {
            input = rx.recv() => match input {
                Some(input) => Some(input),
                None => return,
            },
            () = async { sleep_until(deadline.unwrap_or_else(Instant::now)).await }, if deadline.is_some() => None,
            _ = snapshots.tick() => {
                observer.snapshot(&controller.snapshot());
                continue;
            }
        };
        let now = Instant::now().into_std();
        match input {
            None => controller.on_tick(now),
            Some(Input::Attach { front, tx }) => {
                fronts.insert(front, tx);
            }
            Some(Input::Command(command)) => controller.on_command(now, command),
            Some(Input::Resolved { op, result }) => controller.on_resolved(now, op, result),
            Some(Input::Media { op, result }) => controller.on_media(now, op, result),
            Some(Input::MediaEvent(event)) => controller.on_media_event(event),
        }
        for elapsed in controller.take_join_times() {
            observer.joined(elapsed);
        }
        while let Some(out) = controller.poll_output() {
            match out {
                Output::Front(front, event) => {
                    if let Some(f) = fronts.get(&front) {
                        let _ = f.send(event);
                    }
                }
                Output::Resolve {
                    op,
                    project_id,
                    address,
                } => {
                    tokio::spawn(resolve(
                        resolver.clone(),
                        op,
                        project_id,
                        address,
                        tx.clone(),
                    ));
                }
                Output::Media(op, call) => media.send(op, call),
            }
        }
    }
}

async fn resolve<R: Resolver>(
    resolver: Arc<R>,
    op: OpId,
    project_id: String,
    address: Address,
    tx: UnboundedSender<Input>,
) {
    let result = timeout(
        DIRECTORY_TIMEOUT,
        resolver.resolve_address(&project_id, &address),
    )
    .await
    .unwrap_or_else(|_| Err(DirectoryError::Unavailable("directory timed out".into())));
    let _ = tx.send(Input::Resolved { op, result });
}

/// Routes each media request to the worker of its room.
struct MediaWorkers {
    workers: Vec<UnboundedSender<(OpId, MediaCall)>>,
}

impl MediaWorkers {
    fn start<M: Media>(media: Arc<M>, controller: &UnboundedSender<Input>) -> Self {
        let workers = (0..MEDIA_WORKERS)
            .map(|_| {
                let (tx, rx) = unbounded_channel();
                tokio::spawn(run_media(media.clone(), rx, controller.clone()));
                tx
            })
            .collect();
        Self { workers }
    }

    fn send(&self, op: OpId, call: MediaCall) {
        let mut hasher = std::hash::DefaultHasher::new();
        call.room().hash(&mut hasher);
        let index = (hasher.finish() % self.workers.len() as u64) as usize;
        let _ = self.workers[index].send((op, call));
    }
}

/// Runs one worker's media requests one at a time, in order, so a room's requests never
/// overtake each other (e.g. a remove before its add).
async fn run_media<M: Media>(
    media: Arc<M>,
    mut rx: UnboundedReceiver<(OpId, MediaCall)>,
    tx: UnboundedSender<Input>,
) {
    while let Some((op, call)) = rx.recv().await {
        let result = timeout(MEDIA_TIMEOUT, media_call(&*media, call))
            .await
            .unwrap_or_else(|_| Err(MediaFailure("media engine timed out".into())));
        if tx.send(Input::Media { op, result }).is_err() {
            return;
        }
    }
}

async fn media_call<M: Media>(media: &M, call: MediaCall) -> MediaResult {
    match call {
        MediaCall::AddMember {
            room,
            member,
            media: remote,
        } => media.add_member(&room, &member, &remote).await.map(Some),
        MediaCall::OfferMember {
            room,
            member,
            flavor,
            video,
        } => media
            .offer_member(&room, &member, flavor, video)
            .await
            .map(Some),
        MediaCall::AcceptAnswer { member, answer, .. } => {
            media.accept_answer(&member, &answer).await.map(|()| None)
        }
        MediaCall::Renegotiate { member, offer, .. } => media.renegotiate(&member, &offer).await,
        MediaCall::SetMuted {
            member,
            kind,
            muted,
            ..
        } => media.set_muted(&member, kind, muted).await.map(|()| None),
        MediaCall::SetDeaf { member, deaf, .. } => {
            media.set_deaf(&member, deaf).await.map(|()| None)
        }
        MediaCall::SendDtmf { member, digits, .. } => {
            media.send_dtmf(&member, &digits).await.map(|()| None)
        }
        MediaCall::RemoveMember { member, .. } => media.remove_member(&member).await.map(|()| None),
        MediaCall::CloseRoom { room } => media.close_room(&room).await.map(|()| None),
        MediaCall::MoveMember { room, member } => {
            media.move_member(&member, &room).await.map(|()| None)
        }
    }
}
