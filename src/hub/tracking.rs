//! Requests in flight and their answers.

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::Hub;
use super::views::SlotKey;
use crate::error::{Call, Error, RemoteError, Result};
use crate::ids::{EngineId, RequestId, ViewId};
use crate::protocol::Output;
use crate::protocol::{Request, SHUTDOWN_ID};
use crate::reply::{Body, remote_error};

/// One engine's answer to a tracked request.
pub(crate) struct Answer {
    pub started: f64,
    pub completed: f64,
    pub received: f64,
    pub body: Body,
    /// What the call printed, if it was captured.
    pub output: Option<Output>,
}

/// A direct request in flight or answered.
pub(crate) struct Tracked {
    pub targets: Rc<[EngineId]>,
    pub submitted: f64,
    pub answers: Vec<Option<Answer>>,
    /// Positions (into `targets`) in the order answers arrived.
    pub arrivals: Vec<usize>,
    /// Dropped by its owner: forget it once complete.
    pub orphaned: bool,
    /// The view it was broadcast on (`None`: sent directly to its one engine).
    pub view: Option<ViewId>,
    /// By engine id, its position in `targets` (broadcast requests).
    positions: Option<Rc<[u32]>>,
    /// What its reply-slot size is learned for (broadcast requests).
    pub slot_key: Option<SlotKey>,
    /// What it asks (for reports of engines still busy with it).
    pub what: What,
    /// By position, the last progress report of each engine's call (`done`, `total`); empty
    /// until one comes.
    pub progress: Vec<Option<(u64, u64)>>,
    /// Streamed output: printed as it comes.
    pub stream: bool,
    /// By position, the printed pieces received so far, joined (streamed output); empty until
    /// one comes.
    pub printed: Vec<Output>,
    /// By position, an answer that came before some of its printed pieces, filed once they
    /// have come (a broadcast request's answer travels in the reply gather, its pieces
    /// point-to-point).
    early: Vec<Option<Early>>,
}

/// An answer held back until its printed pieces have come.
struct Early {
    started: f64,
    completed: f64,
    body: Body,
    output: Option<Output>,
}

/// What a request asks an engine to do, as reports name it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum What {
    /// Run the registered function or task with this index.
    Function(u32),
    /// A request of the runtime's own (`pull`, `gather`, ...).
    Operation(&'static str),
}

impl What {
    pub(crate) fn of(request: &Request) -> What {
        match request {
            Request::Apply { func, .. }
            | Request::Map { func, .. }
            | Request::Maps { func, .. } => What::Function(*func),
            Request::Execute { task, .. } => What::Function(*task),
            Request::Pull { .. } => What::Operation("pull"),
            Request::Gather { .. } => What::Operation("gather"),
            Request::Clear { .. } => What::Operation("clear"),
            Request::NewView { .. } => What::Operation("a view's creation"),
            _ => What::Operation("a request"),
        }
    }
}

impl Tracked {
    pub(crate) fn is_complete(&self) -> bool {
        self.arrivals.len() == self.targets.len()
    }

    /// The work done and to do over every engine that has reported progress (an engine that
    /// has answered counts its last total as done); `None` before any report.
    pub(crate) fn work(&self) -> Option<(u64, u64)> {
        if self.progress.is_empty() {
            return None;
        }
        let (mut done, mut total) = (0u64, 0u64);
        for (report, answer) in self.progress.iter().zip(&self.answers) {
            if let Some((d, t)) = report {
                total = total.saturating_add(*t);
                done = done.saturating_add(if answer.is_some() { *t } else { *d });
            }
        }
        Some((done, total))
    }

    /// The position of `engine` among the targets.
    pub(crate) fn position(&self, engine: EngineId) -> Option<usize> {
        match &self.positions {
            Some(p) => p
                .get(engine)
                .copied()
                .filter(|&p| p != u32::MAX)
                .map(|p| p as usize),
            None => self.targets.iter().position(|&e| e == engine),
        }
    }
}

impl Hub {
    /// Starts tracking request `id` to `targets` (broadcast on `view`, or direct).
    pub(super) fn track(
        &self,
        targets: &Rc<[EngineId]>,
        id: RequestId,
        what: What,
        view: Option<(ViewId, Rc<[u32]>, SlotKey)>,
    ) {
        let mut state = self.state.borrow_mut();
        for &e in targets.iter() {
            state.awaiting[e] += 1;
        }
        let (view, positions, slot_key) = match view {
            Some((v, p, k)) => (Some(v), Some(p), Some(k)),
            None => (None, None, None),
        };
        state.requests.insert(
            id,
            Tracked {
                answers: (0..targets.len()).map(|_| None).collect(),
                arrivals: Vec::with_capacity(targets.len()),
                targets: targets.clone(),
                submitted: crate::clock::now(),
                orphaned: false,
                view,
                positions,
                slot_key,
                what,
                progress: Vec::new(),
                stream: false,
                printed: Vec::new(),
                early: Vec::new(),
            },
        );
    }

    /// Prints what request `id`'s calls print as it comes (streamed output).
    pub(crate) fn stream_output_of(&self, id: RequestId) {
        if let Some(t) = self.state.borrow_mut().requests.get_mut(&id) {
            t.stream = true;
        }
    }

    /// Files a printed piece of `engine`'s call for request `id` (printing it if the request
    /// streams), then the call's answer if it came first and waited for this piece.
    pub(crate) fn note_printed(&self, engine: EngineId, id: RequestId, piece: Output) {
        let mut state = self.state.borrow_mut();
        let Some(t) = state.requests.get_mut(&id) else {
            return;
        };
        let Some(pos) = t.position(engine) else {
            return;
        };
        if t.printed.is_empty() {
            t.printed = vec![Output::default(); t.targets.len()];
        }
        let printed = &mut t.printed[pos];
        printed.append(&piece);
        printed.pieces += 1;
        if t.stream {
            print_piece(engine, &piece);
        }
        let received = printed.pieces;
        let waiting = t
            .early
            .get_mut(pos)
            .and_then(|e| {
                e.as_ref()
                    .is_some_and(|e| e.output.as_ref().is_some_and(|o| o.pieces <= received))
                    .then(|| e.take())
            })
            .flatten();
        drop(state);
        if let Some(e) = waiting {
            self.file(engine, id, e.started, e.completed, e.body, e.output);
        }
    }

    /// Files a progress report of `engine` for request `id` (ignored once the request is
    /// answered or forgotten: a report can arrive after the answer of a broadcast request).
    pub(crate) fn note_progress(&self, engine: EngineId, id: RequestId, done: u64, total: u64) {
        let mut state = self.state.borrow_mut();
        let Some(t) = state.requests.get_mut(&id) else {
            return;
        };
        let Some(pos) = t.position(engine) else {
            return;
        };
        if t.answers[pos].is_some() {
            return;
        }
        if t.progress.is_empty() {
            t.progress = vec![None; t.targets.len()];
        }
        t.progress[pos] = Some((done.min(total), total));
    }

    /// The engines that have not answered everything sent to them, each with what its oldest
    /// unanswered request (the one it is running, or will run next) asks: for the report when
    /// the job must end with engines still busy.
    pub(crate) fn busy(&self) -> Vec<(EngineId, String)> {
        let state = self.state.borrow();
        let mut oldest: std::collections::BTreeMap<EngineId, (RequestId, What)> =
            std::collections::BTreeMap::new();
        for (&id, t) in &state.requests {
            for (pos, answer) in t.answers.iter().enumerate() {
                if answer.is_none() {
                    let e = t.targets[pos];
                    let entry = oldest.entry(e).or_insert((id, t.what));
                    if id < entry.0 {
                        *entry = (id, t.what);
                    }
                }
            }
        }
        for (id, engine, func) in self.balancer.borrow().in_flight() {
            let entry = oldest.entry(engine).or_insert((id, What::Function(func)));
            if id < entry.0 {
                *entry = (id, What::Function(func));
            }
        }
        oldest
            .into_iter()
            .map(|(e, (_, what))| {
                let said = match what {
                    What::Function(f) => format!("`{}`", self.registry.name(f)),
                    What::Operation(op) => op.to_string(),
                };
                (e, said)
            })
            .collect()
    }

    /// Files one engine's answer to request `id` (or a task's, or a goodbye).
    pub(super) fn file(
        &self,
        engine: EngineId,
        id: RequestId,
        started: f64,
        completed: f64,
        body: Body,
        output: Option<Output>,
    ) {
        let mut state = self.state.borrow_mut();
        if id == SHUTDOWN_ID {
            state.byes += 1;
            return;
        }
        // An answer whose printed pieces have not all come waits for them.
        if let Some(expected) = output.as_ref().map(|o| o.pieces).filter(|&p| p > 0)
            && let Some(t) = state.requests.get_mut(&id)
            && let Some(pos) = t.position(engine)
            && t.printed.get(pos).map_or(0, |p| p.pieces) < expected
        {
            if t.early.is_empty() {
                t.early = (0..t.targets.len()).map(|_| None).collect();
            }
            t.early[pos] = Some(Early {
                started,
                completed,
                body,
                output,
            });
            return;
        }
        state.filed += 1;
        if let Some(n) = state.answered.get_mut(engine) {
            *n += 1;
        }
        let Some(t) = state.requests.get_mut(&id) else {
            drop(state);
            // A chunk of a map; anything else is a reply nobody waits for any more (its result
            // was dropped and forgotten), and is discarded.
            if self
                .balancer
                .borrow_mut()
                .complete(id, [started, completed, self.receipt_time()], body)
                .is_ok()
            {
                self.dispatch_pending.set(true);
            }
            return;
        };
        let Some(pos) = t.position(engine) else {
            return;
        };
        if t.answers[pos].is_none() {
            t.arrivals.push(pos);
        }
        if t.stream
            && let Some(rest) = &output
        {
            print_piece(engine, rest);
        }
        t.answers[pos] = Some(Answer {
            started,
            completed,
            received: self.receipt_time(),
            body,
            output,
        });
        let finished = t.orphaned && t.is_complete();
        state.awaiting[engine] = state.awaiting[engine].saturating_sub(1);
        if finished {
            state.requests.remove(&id);
        }
    }

    /// Runs `f` on tracked request `id`.
    pub(crate) fn with_tracked<R>(&self, id: RequestId, f: impl FnOnce(&Tracked) -> R) -> R {
        let state = self.state.borrow();
        f(state
            .requests
            .get(&id)
            .expect("a result's request is tracked until the result is dropped"))
    }

    pub(crate) fn is_complete(&self, id: RequestId) -> bool {
        self.with_tracked(id, Tracked::is_complete)
    }

    /// Waits for request `id` to complete.
    pub(crate) fn wait_for(&self, id: RequestId, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.wait_until(|hub| hub.is_complete(id), deadline)
    }

    /// Forgets request `id` (its owner was dropped); replies still on the way are discarded.
    pub(crate) fn release(&self, id: RequestId) {
        let mut state = self.state.borrow_mut();
        if let Some(t) = state.requests.get_mut(&id) {
            if t.is_complete() {
                state.requests.remove(&id);
            } else {
                t.orphaned = true;
            }
        }
    }

    /// Removes a completed request and returns it.
    pub(crate) fn take(&self, id: RequestId) -> Tracked {
        self.state
            .borrow_mut()
            .requests
            .remove(&id)
            .expect("tracked")
    }

    /// Submits, waits for every reply (until `deadline`: then [`Error::Timeout`] of `limit`,
    /// and the request goes on, forgotten), and returns them in target order.
    pub(crate) fn round_trip(
        &self,
        targets: &Rc<[EngineId]>,
        limit: Option<Duration>,
        request: impl FnOnce(RequestId) -> Request,
    ) -> Result<Vec<Answer>> {
        let id = self.submit(targets, request)?;
        if !self.wait_for(id, limit)? {
            self.release(id);
            return Err(Error::Timeout(limit.unwrap_or_default()));
        }
        Ok(self.take_answers(id))
    }

    /// Removes a completed request and returns its answers in target order.
    pub(crate) fn take_answers(&self, id: RequestId) -> Vec<Answer> {
        self.take(id)
            .answers
            .into_iter()
            .map(|s| s.expect("complete"))
            .collect()
    }
}

/// Collects the failures among the answers to `call` (all of them, in target order).
pub(crate) fn failures(call: Call, targets: &[EngineId], answers: &[Answer]) -> Result<()> {
    let errors: Vec<RemoteError> = targets
        .iter()
        .zip(answers)
        .filter_map(|(&engine, s)| match &s.body {
            Body::Failed { function, failure } => {
                Some(remote_error(engine, call, function, failure.clone(), None))
            }
            _ => None,
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.into())
    }
}

/// Prints a streamed piece of `engine`'s output as it comes: `[stdout:E] ...` on this
/// process's stdout, `[stderr:E] ...` on its stderr (IPython Parallel's streaming form).
fn print_piece(engine: EngineId, piece: &Output) {
    use std::io::Write;
    for (stream, bytes) in [("stdout", &piece.stdout), ("stderr", &piece.stderr)] {
        if bytes.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        let mut labelled = String::with_capacity(text.len() + 16);
        for line in text.split_inclusive('\n') {
            labelled.push_str(&format!("[{stream}:{engine}] {line}"));
        }
        if !labelled.ends_with('\n') {
            labelled.push('\n');
        }
        let _ = if stream == "stdout" {
            std::io::stdout().write_all(labelled.as_bytes())
        } else {
            std::io::stderr().write_all(labelled.as_bytes())
        };
    }
}
