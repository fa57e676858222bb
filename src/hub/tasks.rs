//! Driving the load-balanced task stream: the [`Balancer`](crate::balance::Balancer) says what
//! to send; the hub sends it on the engines' direct channels.

use super::Hub;
use crate::balance::JobRef;
use crate::error::Result;
use crate::ids::{EngineId, RequestId};
use crate::protocol::Request;

impl Hub {
    /// Starts a job: its chunks go out as engines have room.
    pub(crate) fn add_job(&self, job: JobRef) -> Result<()> {
        self.balancer.borrow_mut().add_job(job);
        self.dispatch()
    }

    /// Sends every chunk the balancer has room for now: one `Map` per message, or several
    /// chunks in one `Maps`.
    pub(crate) fn dispatch(&self) -> Result<()> {
        self.balancer
            .borrow_mut()
            .dispatch(&mut || self.next_id(), &mut |mut d| {
                let request = if d.chunks.len() == 1 {
                    let chunk = d.chunks.pop().expect("one chunk");
                    Request::Map {
                        id: chunk.id,
                        func: d.func,
                        items: chunk.items,
                    }
                } else {
                    Request::Maps {
                        func: d.func,
                        chunks: d.chunks,
                    }
                };
                self.send_direct(d.engine, request)
            })
    }

    /// Stops a job: nothing more is sent, and its chunks queued on engines are aborted there
    /// (each comes back as an `Aborted` failure); chunks already running finish.
    pub(crate) fn abort_job(&self, job: &JobRef) -> Result<()> {
        let aborts = self.balancer.borrow_mut().abort(job);
        self.send_aborts(aborts)
    }

    /// The owner of a job is gone: abort what has not started, forget the job once nothing of it
    /// is in flight.
    pub(crate) fn forget_job(&self, job: &JobRef) {
        let aborts = self.balancer.borrow_mut().forget(job);
        let _ = self.send_aborts(aborts);
    }

    /// Aborts direct request `id` on `engines` (those that have not answered): an engine that
    /// has not started it answers with an `Aborted` failure; one running it finishes.
    pub(crate) fn abort_request(&self, id: RequestId, engines: &[EngineId]) -> Result<()> {
        for &engine in engines {
            self.send_direct(engine, Request::Abort { ids: vec![id] })?;
        }
        Ok(())
    }

    fn send_aborts(&self, aborts: Vec<(EngineId, Vec<RequestId>)>) -> Result<()> {
        for (engine, ids) in aborts {
            self.send_direct(engine, Request::Abort { ids })?;
        }
        Ok(())
    }
}
