//! The load-balanced task stream: chunks of a map go to whichever engine is free.
//!
//! Pure parts: [`scheduler`] (which engine), [`chunking`] (how many items), [`store`] (results by
//! item), [`source`] (inputs encoded a chunk at a time). [`job`] is one map as the controller runs
//! it. This module ties them to the controller's core: [`Balancer`] holds the jobs in submission
//! order and the chunks in flight; `Core::dispatch` fills every engine's prefetch window from the
//! first job that has work, and `Core::file_task` takes a chunk's reply.
//!
//! Tasks travel on the same ordered point-to-point channel as direct requests, so a direct
//! request to an engine busy with tasks runs after the tasks queued before it, and never
//! deadlocks: the controller keeps receiving task results (and sending more) while it waits for
//! anything.

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

use crate::client::core::Core;
use crate::client::link::Delivery;
use crate::error::Result;
use crate::protocol::{Request, RequestId};
use crate::targets::EngineId;

/// Chunks queued on one engine at most (one running, one waiting).
pub(crate) const PREFETCH: usize = 2;

/// A job as the balancer holds it.
pub(crate) type JobRef = Rc<RefCell<dyn Job>>;

/// Jobs and the chunks in flight.
pub(crate) struct Balancer {
    scheduler: Scheduler,
    jobs: Vec<JobRef>,
    in_flight: HashMap<RequestId, (JobRef, Sent)>,
}

impl Balancer {
    pub(crate) fn new(n_engines: usize) -> Balancer {
        let prefetch = std::env::var("MPIVIEW_PREFETCH")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(PREFETCH);
        Balancer {
            scheduler: Scheduler::new(n_engines, prefetch),
            jobs: Vec::new(),
            in_flight: HashMap::new(),
        }
    }
}

/// Starts a map described by `spec` over `items`; its results arrive in the returned
/// [`MapResult`](crate::MapResult).
pub(crate) fn start_map<A, R, I>(
    core: &Rc<Core>,
    spec: job::MapSpec,
    chunking: chunking::Chunking,
    items: I,
    show: crate::result::ShowProgress,
) -> Result<crate::result::MapResult<R>>
where
    A: serde::Serialize + 'static,
    R: serde::de::DeserializeOwned + 'static,
    I: Iterator<Item = A> + 'static,
{
    let ordered = !spec.unordered;
    // Per-item encodings are kept only when failed items may be sent again alone.
    let source = Box::new(source::IterSource::new(items, spec.retries > 0));
    let job = Rc::new(RefCell::new(job::MapJob::<R>::new(spec, chunking, source)));
    core.add_job(job.clone())?;
    Ok(crate::result::MapResult::new(
        core.clone(),
        job,
        ordered,
        show,
    ))
}

impl Core {
    /// Starts a job: its chunks go out as engines have room.
    pub(crate) fn add_job(&self, job: JobRef) -> Result<()> {
        self.balancer.borrow_mut().jobs.push(job);
        self.dispatch()
    }

    /// Sends chunks while some job has one and an engine it may use has room.
    pub(crate) fn dispatch(&self) -> Result<()> {
        let jobs: Vec<JobRef> = self.balancer.borrow().jobs.clone();
        for job in jobs {
            loop {
                let targets = job.borrow().targets().clone();
                if !self.balancer.borrow().scheduler.has_room(&targets) {
                    break;
                }
                let Some(placement) = job.borrow_mut().want(targets.len()) else {
                    break;
                };
                let engine = {
                    let mut b = self.balancer.borrow_mut();
                    match placement.pinned {
                        Some(e) if b.scheduler.has_room(&[e]) => Some(e),
                        Some(_) => None,
                        None => b.scheduler.pick(&targets, placement.avoid),
                    }
                };
                let Some(engine) = engine else {
                    break;
                };
                let out = job.borrow_mut().take(engine);
                let id = self.next_id();
                let func = job.borrow().func();
                self.send(
                    engine,
                    &Request::Map {
                        id,
                        func,
                        items: out.bytes,
                    },
                )?;
                let sent = Sent {
                    engine,
                    first: out.first,
                    count: out.count,
                    attempt: out.attempt,
                };
                let mut b = self.balancer.borrow_mut();
                b.scheduler.assign(engine);
                b.in_flight.insert(id, (job.clone(), sent));
            }
        }
        Ok(())
    }

    /// Takes the reply of a chunk in flight; gives the delivery back if it is not one.
    pub(crate) fn file_task(&self, d: Delivery) -> Option<Delivery> {
        let entry = {
            let mut b = self.balancer.borrow_mut();
            let entry = b.in_flight.remove(&d.id);
            if let Some((_, sent)) = &entry {
                b.scheduler.complete(sent.engine);
            }
            entry
        };
        let Some((job, sent)) = entry else {
            return Some(d);
        };
        job.borrow_mut()
            .complete(&sent, d.started, d.completed, d.body);
        let done = {
            let j = job.borrow();
            j.is_finished() && j.is_abandoned()
        };
        if done {
            self.balancer
                .borrow_mut()
                .jobs
                .retain(|j| !Rc::ptr_eq(j, &job));
        }
        self.dispatch_pending.set(true);
        None
    }

    /// Stops a job: nothing more is sent, and its chunks queued on engines are aborted there
    /// (each comes back as an `Aborted` failure); chunks already running finish.
    pub(crate) fn abort_job(&self, job: &JobRef) -> Result<()> {
        job.borrow_mut().abort();
        let mut by_engine: HashMap<EngineId, Vec<RequestId>> = HashMap::new();
        for (id, (j, sent)) in self.balancer.borrow().in_flight.iter() {
            if Rc::ptr_eq(j, job) {
                by_engine.entry(sent.engine).or_default().push(*id);
            }
        }
        for (engine, ids) in by_engine {
            self.send(engine, &Request::Abort { ids })?;
        }
        Ok(())
    }

    /// The owner of a job is gone: abort what has not started, forget the job once nothing of it
    /// is in flight.
    pub(crate) fn forget_job(&self, job: &JobRef) {
        if !job.borrow().is_finished() {
            let _ = self.abort_job(job);
        }
        let finished = job.borrow().is_finished();
        if finished {
            self.balancer
                .borrow_mut()
                .jobs
                .retain(|j| !Rc::ptr_eq(j, job));
        }
    }
}
