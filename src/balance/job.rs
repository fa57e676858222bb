//! One map (or one load-balanced task) as the controller runs it: inputs to send, results as
//! they come back, retries, abort.

use std::collections::VecDeque;
use std::rc::Rc;

use serde::de::DeserializeOwned;

use super::BatchRule;
use super::chunking::ChunkPlan;
use super::source::{ChunkSource, Encoded};
use super::store::Store;
use crate::error::{Call, Error, RemoteErrorKind};
use crate::ids::{EngineId, IdMap};
use crate::registry::Failure;
use crate::reply::{Body, remote_error};

/// Where the next chunk may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Placement {
    /// It must go to this engine (a direct view's block).
    pub pinned: Option<EngineId>,
    /// Prefer another engine than this one (a retry).
    pub avoid: Option<EngineId>,
}

/// A chunk to send.
pub(crate) struct Outgoing {
    pub first: u64,
    pub count: usize,
    pub attempt: u32,
    pub bytes: Vec<u8>,
}

/// A chunk on its way or running.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sent {
    pub engine: EngineId,
    /// The message it went in (see [`BatchRule`]).
    pub batch: u64,
    pub first: u64,
    pub count: usize,
    pub attempt: u32,
}

/// When a chunk ran, and where: 32 bytes, kept for every chunk of a map (times in seconds after
/// the map was submitted).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChunkTiming {
    pub first: u64,
    pub count: u32,
    pub engine: u32,
    pub started: f32,
    pub completed: f32,
    pub received: f32,
}

/// What the balancer needs of a job, whatever its result type.
pub(crate) trait Job {
    fn func(&self) -> u32;
    fn targets(&self) -> &Rc<[EngineId]>;
    /// Prepares the next chunk if the job has one to send now; where it may go.
    fn want(&mut self, engines: usize) -> Option<Placement>;
    /// Hands over the prepared chunk, sent to `engine`.
    fn take(&mut self, engine: EngineId) -> Outgoing;
    /// How many chunks the next message may carry, by `rule`, with `engines` sharing the work.
    fn batch(&self, engines: usize, rule: BatchRule) -> usize;
    /// A chunk came back: it ran from `started` to `completed` and its reply was received at
    /// `received` (seconds since the epoch).
    fn complete(&mut self, sent: &Sent, times: [f64; 3], body: Body);
    /// Stop sending; what is queued on engines is aborted by the balancer.
    fn abort(&mut self);
    /// Nothing more to send and nothing in flight.
    fn is_finished(&self) -> bool;
    /// Its owner is gone: results are no longer wanted.
    fn is_abandoned(&self) -> bool;
}

/// A failed item waiting to be sent again.
struct Retry {
    index: u64,
    bytes: Vec<u8>,
    attempt: u32,
    avoid: EngineId,
}

/// How a map was configured.
pub(crate) struct MapSpec {
    pub func: u32,
    pub name: String,
    pub targets: Rc<[EngineId]>,
    pub total: Option<usize>,
    pub retries: u32,
    /// At most this many items sent but not yet read (`imap`); `None`: no bound (`map`).
    pub max_outstanding: Option<u64>,
    /// Results are read in arrival order.
    pub unordered: bool,
    /// A direct view's map: chunk `k` (the block rule over the targets) goes to target `k`.
    pub pinned: bool,
    /// The call that made it (`map`, or a load-balanced `apply`), for its errors.
    pub call: Call,
}

/// A map's state, typed by its result.
pub(crate) struct MapJob<R> {
    spec: MapSpec,
    plan: ChunkPlan,
    source: Box<dyn ChunkSource>,
    source_done: bool,
    staged: Option<(Encoded, Option<Retry>)>,
    retries: VecDeque<Retry>,
    /// Encoded chunks in flight, kept for per-item retries.
    kept: IdMap<(u64, u32), Encoded>,
    in_flight: usize,
    /// The next target of a pinned (direct) map.
    pinned_next: usize,
    pub(crate) store: Store<R>,
    pub(crate) timings: Vec<ChunkTiming>,
    per_item: Option<f64>,
    /// Measured engine seconds per chunk (a moving average), for batches.
    per_chunk: Option<f64>,
    /// Items in the last chunk sent.
    last_count: usize,
    pub(crate) aborted: bool,
    /// Items never sent because of an abort (known-length maps).
    pub(crate) aborted_unsent: u64,
    pub(crate) abandoned: bool,
    pub(crate) error: Option<Error>,
    /// When the map was created (seconds since the epoch).
    pub(crate) submitted: f64,
}

impl<R: DeserializeOwned> MapJob<R> {
    pub(crate) fn new(
        spec: MapSpec,
        chunking: super::chunking::Chunking,
        source: Box<dyn ChunkSource>,
    ) -> Self {
        let plan = ChunkPlan::new(chunking, spec.total);
        let mut store = Store::new(spec.unordered);
        if let Some(n) = spec.total {
            store.reserve(n);
        }
        MapJob {
            spec,
            plan,
            source,
            source_done: false,
            staged: None,
            retries: VecDeque::new(),
            kept: IdMap::default(),
            in_flight: 0,
            pinned_next: 0,
            store,
            timings: Vec::new(),
            per_item: None,
            per_chunk: None,
            last_count: 1,
            aborted: false,
            aborted_unsent: 0,
            abandoned: false,
            error: None,
            submitted: crate::clock::now(),
        }
    }

    pub(crate) fn total(&self) -> Option<usize> {
        self.spec.total
    }

    /// Whether items are sent only as results are taken out (`imap`'s `max_outstanding`).
    pub(crate) fn bounded(&self) -> bool {
        self.spec.max_outstanding.is_some()
    }

    /// Items with a final outcome (aborted unsent items included).
    pub(crate) fn done(&self) -> u64 {
        self.store.done + self.aborted_unsent
    }

    fn fail(
        &mut self,
        index: u64,
        engine: EngineId,
        function: &str,
        failure: Failure,
        attempt: u32,
        bytes: Option<Vec<u8>>,
    ) {
        if failure.kind != RemoteErrorKind::Aborted
            && attempt < self.spec.retries
            && !self.aborted
            && let Some(bytes) = bytes
        {
            self.retries.push_back(Retry {
                index,
                bytes,
                attempt: attempt + 1,
                avoid: engine,
            });
            return;
        }
        self.store.set_failed(remote_error(
            engine,
            self.spec.call,
            function,
            failure,
            Some(index),
        ));
    }

    fn room(&self) -> bool {
        match self.spec.max_outstanding {
            None => true,
            Some(max) => self.store.added - self.store.next_in_order() < max,
        }
    }
}

impl<R: DeserializeOwned> MapJob<R> {
    /// Prepares the next chunk: a retry first, then new items from the source.
    fn stage(&mut self, engines: usize) {
        if let Some(Retry {
            index,
            bytes,
            attempt,
            avoid,
        }) = self.retries.pop_front()
        {
            let encoded = Encoded {
                bytes,
                count: 1,
                // A one-item chunk: the length (1, one byte) then the item.
                offsets: Some(vec![1]),
            };
            let meta = Retry {
                index,
                bytes: Vec::new(),
                attempt,
                avoid,
            };
            self.staged = Some((encoded, Some(meta)));
            return;
        }
        if self.source_done || !self.room() {
            return;
        }
        let size = if self.spec.pinned {
            // A direct view's map: one block per target, skipping empty blocks.
            let n = self.spec.total.expect("pinned maps know their length");
            let targets = self.spec.targets.len();
            while self.pinned_next < targets
                && crate::partition::block_len(n, targets, self.pinned_next) == 0
            {
                self.pinned_next += 1;
            }
            if self.pinned_next == targets {
                self.source_done = true;
                return;
            }
            crate::partition::block_len(n, targets, self.pinned_next)
        } else {
            let remaining = self.spec.total.map(|n| n - self.store.added as usize);
            let size = self.plan.next(remaining, engines, self.per_item);
            match self.spec.max_outstanding {
                Some(max) => {
                    size.min((max - (self.store.added - self.store.next_in_order())) as usize)
                }
                None => size,
            }
        };
        match self.source.take(size.max(1)) {
            None => self.source_done = true,
            Some(Err(e)) => {
                self.source_done = true;
                self.error = Some(e);
            }
            Some(Ok(encoded)) => self.staged = Some((encoded, None)),
        }
    }
}

/// One item's outcome in a chunk's reply: its value, or the function that failed and how.
type ItemOutcome<R> = std::result::Result<R, (String, Failure)>;

/// The outcomes of a chunk's items, in order.
enum Outcomes<R> {
    /// Every item's value.
    Values(std::vec::IntoIter<R>),
    /// Values and failures.
    Mixed(Vec<ItemOutcome<R>>),
}

impl<R: DeserializeOwned> MapJob<R> {
    /// The outcome of each of the `count` items of a chunk's reply.
    fn outcomes(&self, count: usize, body: Body) -> Outcomes<R> {
        let all_failed = |function: &str, failure: Failure| {
            Outcomes::Mixed(
                (0..count)
                    .map(|_| Err((function.to_string(), failure.clone())))
                    .collect(),
            )
        };
        let name = &self.spec.name;
        let mapped = match body {
            Body::Mapped(mapped) => mapped,
            Body::Failed { function, failure } => return all_failed(&function, failure),
            _ => {
                return all_failed(
                    name,
                    Failure::bad_payload("unexpected reply to a map chunk"),
                );
            }
        };
        let values = match postcard::from_bytes::<Vec<R>>(&mapped.values) {
            Ok(values) => values,
            Err(e) => {
                let why = format!(
                    "cannot decode results as {}: {e}",
                    std::any::type_name::<R>()
                );
                return all_failed(name, Failure::bad_payload(why));
            }
        };
        if mapped.failures.is_empty() && values.len() == count {
            // Every item worked (the common case): no outcome list is built.
            return Outcomes::Values(values.into_iter());
        }
        // Values come in item order, without the failed items.
        let mut values = values.into_iter();
        let mut failures = mapped.failures.into_iter().peekable();
        let outcomes = (0..count)
            .map(|k| {
                if failures.peek().is_some_and(|(p, _)| *p as usize == k) {
                    let (_, failure) = failures.next().expect("peeked");
                    Err((name.clone(), failure))
                } else {
                    values.next().ok_or_else(|| {
                        (
                            name.clone(),
                            Failure::bad_payload("fewer results than items"),
                        )
                    })
                }
            })
            .collect();
        Outcomes::Mixed(outcomes)
    }
}

impl<R: DeserializeOwned> Job for MapJob<R> {
    fn func(&self) -> u32 {
        self.spec.func
    }

    fn targets(&self) -> &Rc<[EngineId]> {
        &self.spec.targets
    }

    fn want(&mut self, engines: usize) -> Option<Placement> {
        if self.staged.is_none() && !self.aborted {
            self.stage(engines);
        }
        let (_, retry) = self.staged.as_ref()?;
        Some(Placement {
            pinned: self
                .spec
                .pinned
                .then(|| self.spec.targets[self.pinned_next]),
            avoid: retry.as_ref().map(|r| r.avoid),
        })
    }

    fn take(&mut self, _engine: EngineId) -> Outgoing {
        let (encoded, retry) = self.staged.take().expect("want() prepared a chunk");
        let (first, attempt) = match &retry {
            Some(r) => (r.index, r.attempt),
            None => {
                let first = self.store.added;
                self.store.add(encoded.count);
                (first, 0)
            }
        };
        self.in_flight += 1;
        if attempt == 0 {
            // Retries are single items: they say nothing of the chunks left.
            self.last_count = encoded.count.max(1);
        }
        if self.spec.pinned && attempt == 0 {
            self.pinned_next += 1;
        }
        let count = encoded.count;
        let bytes = if self.spec.retries > 0 {
            let bytes = encoded.bytes.clone();
            self.kept.insert((first, attempt), encoded);
            bytes
        } else {
            encoded.bytes
        };
        Outgoing {
            first,
            count,
            attempt,
            bytes,
        }
    }

    fn batch(&self, engines: usize, rule: BatchRule) -> usize {
        let Some(per_chunk) = self.per_chunk.filter(|_| rule.max > 1 && !self.spec.pinned) else {
            return 1;
        };
        let by_time = (rule.target / per_chunk.max(1e-9)) as usize;
        let by_balance = self.spec.total.map_or(usize::MAX, |n| {
            let chunks_left = (n as u64 - self.store.added) as usize / self.last_count;
            chunks_left / (4 * engines.max(1))
        });
        by_time.min(by_balance).clamp(1, rule.max)
    }

    fn complete(&mut self, sent: &Sent, [started, completed, received]: [f64; 3], body: Body) {
        self.in_flight -= 1;
        let kept = if self.kept.is_empty() {
            None
        } else {
            self.kept.remove(&(sent.first, sent.attempt))
        };
        let mapped = matches!(body, Body::Mapped(_));
        match self.outcomes(sent.count, body) {
            Outcomes::Values(values) => {
                for (index, v) in (sent.first..).zip(values) {
                    self.store.set_ready(index, v);
                }
            }
            Outcomes::Mixed(outcomes) => {
                for (k, outcome) in outcomes.into_iter().enumerate() {
                    let index = sent.first + k as u64;
                    match outcome {
                        Ok(v) => self.store.set_ready(index, v),
                        Err((function, failure)) => {
                            let bytes = kept.as_ref().map(|e| e.item(k));
                            self.fail(index, sent.engine, &function, failure, sent.attempt, bytes);
                        }
                    }
                }
            }
        }
        if mapped && sent.count > 0 {
            let chunk = (completed - started).max(0.0);
            let t = chunk / sent.count as f64;
            self.per_item = Some(self.per_item.map_or(t, |p| 0.5 * p + 0.5 * t));
            self.per_chunk = Some(self.per_chunk.map_or(chunk, |p| 0.5 * p + 0.5 * chunk));
        }
        if !self.abandoned {
            let since = |t: f64| (t - self.submitted) as f32;
            self.timings.push(ChunkTiming {
                first: sent.first,
                count: sent.count as u32,
                engine: sent.engine as u32,
                started: since(started),
                completed: since(completed),
                received: since(received),
            });
        }
    }

    fn abort(&mut self) {
        if self.aborted {
            return;
        }
        self.aborted = true;
        self.staged = None;
        for retry in std::mem::take(&mut self.retries) {
            let failure = Failure {
                kind: RemoteErrorKind::Aborted,
                message: "aborted before it was retried".into(),
            };
            self.store.set_failed(remote_error(
                retry.avoid,
                self.spec.call,
                &self.spec.name,
                failure,
                Some(retry.index),
            ));
        }
        if let Some(n) = self.spec.total {
            self.aborted_unsent = n as u64 - self.store.added;
        }
        self.source_done = true;
    }

    fn is_finished(&self) -> bool {
        (self.source_done || self.aborted)
            && self.staged.is_none()
            && self.retries.is_empty()
            && self.in_flight == 0
    }

    fn is_abandoned(&self) -> bool {
        self.abandoned
    }
}
