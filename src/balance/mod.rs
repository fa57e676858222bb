//! The load-balanced task stream: chunks of a map go to whichever engine is free.
//!
//! A state machine that the controller's hub drives: [`Balancer::dispatch`] says which chunks to
//! send now and where, [`Balancer::complete`] takes a chunk's reply, [`Balancer::abort`] says
//! which queued chunks to abort where. It sends nothing itself and knows nothing of MPI, so its
//! dispatch is tested here with simulated engines.
//!
//! Pure parts: [`scheduler`] (which engine), [`chunking`] (how many items), [`store`] (results by
//! item), [`source`] (inputs encoded a chunk at a time). [`job`] is one map as the controller runs
//! it. The balancer holds the jobs in submission order and fills every engine's prefetch window
//! from the first job that has work.
//!
//! **Batches.** A message to an engine carries one chunk, or several chunks of one job when the
//! job's chunks have been measured short: as many as fill [`BatchRule::target`] of engine time
//! (100 µs by default, `MPIVIEW_BATCH_TARGET_US`), at most [`BatchRule::max`] (64,
//! `MPIVIEW_BATCH_MAX`; 1 sends every chunk alone) and at most a quarter of each engine's share
//! of the chunks left, so that the end of a map still balances. The prefetch window counts
//! messages: an engine runs one batch while the next waits on it. Every chunk keeps its own
//! id, result, retry and abort; a batch only shares the message each way, so that tasks of a
//! microsecond are not paid for with a message of a few microseconds each.

pub(crate) mod chunking;
pub(crate) mod job;
pub(crate) mod scheduler;
pub(crate) mod source;
pub(crate) mod store;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use job::{Job, Sent};
use scheduler::Scheduler;

use crate::ids::{EngineId, IdMap, RequestId};
use crate::protocol::{INLINE_MAX, MapChunk};
use crate::reply::Body;

/// A job as the balancer holds it.
pub(crate) type JobRef = Rc<RefCell<dyn Job>>;

/// One message to send to `engine`: chunks of the map function `func`, each with its own id
/// (`Request::Map` for one, `Request::Maps` for several).
pub(crate) struct Dispatch {
    pub engine: EngineId,
    pub func: u32,
    pub chunks: Vec<MapChunk>,
}

/// How many chunks one message may carry (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct BatchRule {
    /// Engine seconds a batch aims at.
    pub target: f64,
    /// The most chunks in one message (1: every chunk alone).
    pub max: usize,
}

impl BatchRule {
    /// Every chunk in a message of its own.
    pub(crate) const SINGLE: BatchRule = BatchRule {
        target: 0.0,
        max: 1,
    };
}

/// Item bytes after which a batch takes no more chunks.
const BATCH_BYTES: usize = INLINE_MAX / 2;

/// Jobs and the chunks in flight.
pub(crate) struct Balancer {
    scheduler: Scheduler,
    jobs: Vec<JobRef>,
    in_flight: IdMap<RequestId, (JobRef, Sent)>,
    batch: BatchRule,
    /// Chunks of each batch in flight that have not come back, by batch.
    batches: IdMap<u64, usize>,
    next_batch: u64,
    /// Chunks in flight, by engine.
    chunks_on: Vec<usize>,
}

impl Balancer {
    /// A balancer for `n_engines` engines, each with up to `prefetch` messages of chunks queued,
    /// a message carrying as many chunks as `batch` allows.
    pub(crate) fn new(n_engines: usize, prefetch: usize, batch: BatchRule) -> Balancer {
        Balancer {
            scheduler: Scheduler::new(n_engines, prefetch),
            jobs: Vec::new(),
            in_flight: IdMap::default(),
            batch,
            batches: IdMap::default(),
            next_batch: 0,
            chunks_on: vec![0; n_engines],
        }
    }

    /// Adds a job after those already running; its chunks go out at the next dispatch.
    pub(crate) fn add_job(&mut self, job: JobRef) {
        self.jobs.push(job);
    }

    /// Chunks on `engine` that have not come back.
    pub(crate) fn load(&self, engine: EngineId) -> usize {
        self.chunks_on[engine]
    }

    /// Every chunk that has not come back: its id, engine and function.
    pub(crate) fn in_flight(&self) -> impl Iterator<Item = (RequestId, EngineId, u32)> + '_ {
        self.in_flight
            .iter()
            .map(|(&id, (job, sent))| (id, sent.engine, job.borrow().func()))
    }

    /// The messages to send now, while some job has a chunk and an engine it may use has room;
    /// each chunk gets an id from `next_id`, each message goes to `send` (whose error stops the
    /// dispatch).
    pub(crate) fn dispatch<E>(
        &mut self,
        next_id: &mut dyn FnMut() -> RequestId,
        send: &mut dyn FnMut(Dispatch) -> Result<(), E>,
    ) -> Result<(), E> {
        for k in 0..self.jobs.len() {
            let job = self.jobs[k].clone();
            loop {
                let targets = job.borrow().targets().clone();
                if !self.scheduler.has_room(&targets) {
                    break;
                }
                let Some(placement) = job.borrow_mut().want(targets.len()) else {
                    break;
                };
                let engine = match placement.pinned {
                    Some(e) if self.scheduler.has_room(&[e]) => Some(e),
                    Some(_) => None,
                    None => self.scheduler.pick(&targets, placement.avoid),
                };
                let Some(engine) = engine else {
                    break;
                };
                let limit = match placement.pinned {
                    Some(_) => 1,
                    None => job.borrow().batch(targets.len(), self.batch),
                };
                let message = self.take_batch(&job, engine, limit, targets.len(), next_id);
                send(message)?;
            }
        }
        Ok(())
    }

    /// Takes up to `limit` chunks of `job` (the first already prepared) for one message to
    /// `engine`, and counts them in flight.
    fn take_batch(
        &mut self,
        job: &JobRef,
        engine: EngineId,
        limit: usize,
        engines: usize,
        next_id: &mut dyn FnMut() -> RequestId,
    ) -> Dispatch {
        let batch = self.next_batch;
        self.next_batch += 1;
        let func = job.borrow().func();
        let mut chunks = Vec::with_capacity(limit.min(64));
        let mut bytes = 0;
        loop {
            let chunk = job.borrow_mut().take(engine);
            let id = next_id();
            bytes += chunk.bytes.len();
            let sent = Sent {
                engine,
                batch,
                first: chunk.first,
                count: chunk.count,
                attempt: chunk.attempt,
            };
            self.in_flight.insert(id, (job.clone(), sent));
            chunks.push(MapChunk {
                id,
                items: chunk.bytes,
            });
            if chunks.len() >= limit || bytes >= BATCH_BYTES {
                break;
            }
            // The next chunk joins if it may go anywhere but is not a retry kept off `engine`.
            match job.borrow_mut().want(engines) {
                Some(p) if p.pinned.is_none() && p.avoid != Some(engine) => {}
                _ => break,
            }
        }
        self.scheduler.assign(engine);
        self.chunks_on[engine] += chunks.len();
        self.batches.insert(batch, chunks.len());
        Dispatch {
            engine,
            func,
            chunks,
        }
    }

    /// Files the reply of chunk `id` (`times`: started and completed on the engine, received
    /// here, seconds since the epoch); gives `body` back if `id` is not a chunk in flight.
    pub(crate) fn complete(
        &mut self,
        id: RequestId,
        times: [f64; 3],
        body: Body,
    ) -> Result<(), Body> {
        let Some((job, sent)) = self.in_flight.remove(&id) else {
            return Err(body);
        };
        self.chunks_on[sent.engine] -= 1;
        let left = self
            .batches
            .get_mut(&sent.batch)
            .expect("a chunk in flight has its batch");
        *left -= 1;
        if *left == 0 {
            self.batches.remove(&sent.batch);
            self.scheduler.complete(sent.engine);
        }
        job.borrow_mut().complete(&sent, times, body);
        let done = {
            let j = job.borrow();
            j.is_finished() && j.is_abandoned()
        };
        if done {
            self.jobs.retain(|j| !Rc::ptr_eq(j, &job));
        }
        Ok(())
    }

    /// Stops a job: nothing more is sent; returns its chunks queued on engines, by engine, to
    /// abort there (each comes back as an `Aborted` failure; chunks already running finish).
    pub(crate) fn abort(&mut self, job: &JobRef) -> Vec<(EngineId, Vec<RequestId>)> {
        job.borrow_mut().abort();
        let mut by_engine: HashMap<EngineId, Vec<RequestId>> = HashMap::new();
        for (id, (j, sent)) in &self.in_flight {
            if Rc::ptr_eq(j, job) {
                by_engine.entry(sent.engine).or_default().push(*id);
            }
        }
        let mut out: Vec<_> = by_engine.into_iter().collect();
        out.sort_unstable_by_key(|(e, _)| *e);
        for (_, ids) in &mut out {
            ids.sort_unstable();
        }
        out
    }

    /// The owner of a job is gone: aborts what has not started (returned as by
    /// [`abort`](Self::abort)) and forgets the job once nothing of it is in flight.
    pub(crate) fn forget(&mut self, job: &JobRef) -> Vec<(EngineId, Vec<RequestId>)> {
        let aborts = if job.borrow().is_finished() {
            Vec::new()
        } else {
            self.abort(job)
        };
        if job.borrow().is_finished() {
            self.jobs.retain(|j| !Rc::ptr_eq(j, job));
        }
        aborts
    }
}

#[cfg(test)]
mod tests {
    use super::chunking::Chunking;
    use super::job::{MapJob, MapSpec};
    use super::source::IterSource;
    use super::*;
    use crate::registry::{Failure, Mapped};

    fn job(
        targets: &[EngineId],
        n: u64,
        chunking: Chunking,
        retries: u32,
    ) -> Rc<RefCell<MapJob<u64>>> {
        let spec = MapSpec {
            func: 7,
            name: "double".into(),
            targets: targets.into(),
            total: Some(n as usize),
            retries,
            max_outstanding: None,
            unordered: false,
            pinned: false,
            call: crate::error::Call::Map,
        };
        let source = Box::new(IterSource::new(0..n, retries > 0));
        Rc::new(RefCell::new(MapJob::new(spec, chunking, source)))
    }

    /// Every chunk the balancer sends now, with ids counted in `next`.
    fn dispatched(b: &mut Balancer, next: &mut RequestId) -> Vec<Dispatch> {
        let mut out = Vec::new();
        b.dispatch::<()>(
            &mut || {
                *next += 1;
                *next
            },
            &mut |d| {
                out.push(d);
                Ok(())
            },
        )
        .unwrap();
        out
    }

    /// What an engine does with a chunk: doubles every item; fails item 13 the first time.
    fn run(items: &[u8], failed_once: &mut bool) -> Body {
        let items: Vec<u64> = postcard::from_bytes(items).unwrap();
        let mut values = Vec::new();
        let mut failures = Vec::new();
        for (k, x) in items.into_iter().enumerate() {
            if x == 13 && !*failed_once {
                *failed_once = true;
                failures.push((k as u32, Failure::bad_payload("flaky")));
            } else {
                values.push(2 * x);
            }
        }
        Body::Mapped(Mapped {
            values: postcard::to_stdvec(&values).unwrap(),
            failures,
        })
    }

    /// What a simulated run did: chunks run by each engine, and the chunks of each message in
    /// the order they were sent.
    struct Simulated {
        ran: Vec<usize>,
        messages: Vec<usize>,
    }

    /// Runs a map on simulated engines that answer their oldest message in turn, each chunk
    /// taking `chunk_secs`, the balancer batching by `rule`.
    fn simulate_with(
        n_engines: usize,
        items: u64,
        chunking: Chunking,
        retries: u32,
        rule: BatchRule,
        chunk_secs: f64,
    ) -> Simulated {
        let all: Vec<EngineId> = (0..n_engines).collect();
        let mut b = Balancer::new(n_engines, 2, rule);
        let j = job(&all, items, chunking, retries);
        b.add_job(j.clone());
        let mut next = 0;
        let mut queues: Vec<std::collections::VecDeque<Dispatch>> =
            (0..n_engines).map(|_| Default::default()).collect();
        let mut ran = vec![0; n_engines];
        let mut messages = Vec::new();
        let mut failed_once = false;
        loop {
            for d in dispatched(&mut b, &mut next) {
                assert!(queues[d.engine].len() < 2, "an engine's window overflowed");
                assert!((1..=rule.max).contains(&d.chunks.len()));
                messages.push(d.chunks.len());
                queues[d.engine].push_back(d);
            }
            let Some(e) = (0..n_engines).find(|&e| !queues[e].is_empty()) else {
                break;
            };
            // The engine with the fewest chunks run so far answers next (equal speeds).
            let e = (e..n_engines)
                .filter(|&k| !queues[k].is_empty())
                .min_by_key(|&k| ran[k])
                .unwrap_or(e);
            let d = queues[e].pop_front().unwrap();
            assert_eq!(d.func, 7);
            let loads: usize = d.chunks.len();
            assert!(
                b.load(e) >= loads,
                "every chunk of the message counts as load"
            );
            for chunk in d.chunks {
                ran[e] += 1;
                let body = run(&chunk.items, &mut failed_once);
                assert!(
                    b.complete(chunk.id, [0.0, chunk_secs, chunk_secs], body)
                        .is_ok()
                );
            }
        }
        assert!(j.borrow().is_finished());
        assert!(b.batches.is_empty() && b.chunks_on.iter().all(|&c| c == 0));
        let (values, errors) = j.borrow_mut().store.take_all();
        if retries > 0 {
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(values, (0..items).map(|x| 2 * x).collect::<Vec<_>>());
        }
        Simulated { ran, messages }
    }

    /// [`simulate_with`], one chunk per message, chunks of 1 ms: the chunks each engine ran.
    fn simulate(n_engines: usize, items: u64, chunking: Chunking, retries: u32) -> Vec<usize> {
        let rule = BatchRule {
            target: 100e-6,
            max: 64,
        };
        simulate_with(n_engines, items, chunking, retries, rule, 1e-3).ran
    }

    #[test]
    fn every_item_runs_once_and_engines_share_the_work() {
        for engines in [1, 2, 3] {
            let ran = simulate(engines, 100, Chunking::Fixed(1), 1);
            assert_eq!(ran.iter().sum::<usize>(), 101, "100 items and one retry");
            let (lo, hi) = (ran.iter().min().unwrap(), ran.iter().max().unwrap());
            assert!(hi - lo <= 2, "{engines} engines: {ran:?}");
            let ran = simulate(engines, 1000, Chunking::Fixed(7), 0);
            assert_eq!(ran.iter().sum::<usize>(), 1000usize.div_ceil(7));
        }
    }

    #[test]
    fn short_chunks_share_messages_and_the_end_still_balances() {
        let rule = BatchRule {
            target: 100e-6,
            max: 64,
        };
        for engines in [1, 2, 3, 16] {
            let items = 20_000;
            // 1 µs chunks: 100 fit the target, 64 may share a message.
            let s = simulate_with(engines, items, Chunking::Fixed(1), 1, rule, 1e-6);
            assert_eq!(
                s.ran.iter().sum::<usize>(),
                items as usize + 1,
                "and one retry"
            );
            assert_eq!(
                s.messages[..2 * engines],
                vec![1; 2 * engines],
                "nothing measured yet"
            );
            assert!(s.messages.contains(&64), "{engines} engines: full batches");
            // Fewer than one message per 25 chunks, the shrinking batches of the end included.
            assert!(
                s.messages.len() < items as usize / 25,
                "{engines} engines: {} messages",
                s.messages.len()
            );
            // Near the end batches shrink to a quarter of each engine's share of what is left.
            assert_eq!(*s.messages.last().unwrap(), 1);
            let (lo, hi) = (s.ran.iter().min().unwrap(), s.ran.iter().max().unwrap());
            assert!(hi - lo <= 130, "{engines} engines: {:?}", s.ran);
            // 20 µs chunks: five to a message.
            let s = simulate_with(engines, 2_000, Chunking::Fixed(1), 0, rule, 20e-6);
            assert_eq!(s.messages.iter().max(), Some(&5), "{engines} engines");
            // Chunks longer than the target, or batching off: one chunk per message.
            let s = simulate_with(engines, 500, Chunking::Fixed(1), 0, rule, 1e-3);
            assert!(s.messages.iter().all(|&m| m == 1));
            let s = simulate_with(engines, 500, Chunking::Fixed(1), 0, BatchRule::SINGLE, 1e-6);
            assert!(s.messages.iter().all(|&m| m == 1));
        }
    }

    #[test]
    fn an_unknown_reply_is_given_back_and_aborts_name_their_engines() {
        let mut b = Balancer::new(2, 2, BatchRule::SINGLE);
        assert!(b.complete(99, [0.0; 3], Body::Ack).is_err());
        let j = job(&[0, 1], 10, Chunking::Fixed(1), 0);
        let jr: JobRef = j.clone();
        b.add_job(jr.clone());
        let mut next = 0;
        let sent = dispatched(&mut b, &mut next);
        assert_eq!(sent.len(), 4, "two chunks queued on each engine");
        assert!(dispatched(&mut b, &mut next).is_empty(), "windows full");
        let aborts = b.abort(&jr);
        assert_eq!(aborts, vec![(0, vec![1, 3]), (1, vec![2, 4])]);
        // Nothing more goes out once aborted, even with room.
        assert!(b.complete(1, [0.0; 3], Body::Ack).is_ok());
        assert!(dispatched(&mut b, &mut next).is_empty());
        assert_eq!(b.load(0), 1);
    }
}
