//! [`AsyncResult`]: the handle to a direct request in flight.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use super::multiplicity::{Many, Multiplicity};
use super::progress::{Progress, ShowProgress};
use super::timing::{EngineTiming, serial_time, wall_time};
use crate::clock::to_system_time;
use crate::error::{Call, Error, RemoteError, Result};
use crate::hub::Hub;
use crate::hub::tracking::{Answer, Tracked};
use crate::ids::EngineId;
use crate::ids::RequestId;
use crate::protocol::Output;
use crate::registry::Failure;
use crate::reply::{Body, remote_error};

/// Turns one engine's reply into its value.
pub(crate) type Decode<R> = fn(&Body) -> std::result::Result<R, Failure>;

/// Decodes an encoded result.
pub(crate) fn decode_value<R: serde::de::DeserializeOwned>(
    body: &Body,
) -> std::result::Result<R, Failure> {
    match body {
        Body::Value(bytes) => postcard::from_bytes(bytes).map_err(|e| {
            Failure::bad_payload(format!(
                "cannot decode the result as {}: {e}",
                std::any::type_name::<R>()
            ))
        }),
        _ => Err(Failure::bad_payload("unexpected reply")),
    }
}

/// The one value of a pull reply, as `T`.
pub(crate) fn decode_pulled<T: crate::value::NamespaceValue>(
    body: &Body,
) -> std::result::Result<T, Failure> {
    match body {
        Body::Pulled(items) => match items.first() {
            Some(Ok(value)) => T::from_value(value.clone()).map_err(|why| Failure {
                kind: crate::error::RemoteErrorKind::WrongType,
                message: why,
            }),
            Some(Err(failure)) => Err(failure.clone()),
            None => Err(Failure::bad_payload("a pull reply without its value")),
        },
        _ => Err(Failure::bad_payload("unexpected reply to a pull")),
    }
}

/// An acknowledgement as `()`.
pub(crate) fn decode_ack(body: &Body) -> std::result::Result<(), Failure> {
    match body {
        Body::Ack => Ok(()),
        _ => Err(Failure::bad_payload("unexpected reply")),
    }
}

/// The results of a request to the engines of a direct view, arriving as they finish.
///
/// Controller only. `M` is [`Many`] for multi-engine views (results are a `Vec` in target
/// order, the default) and [`One`](super::One) for a single-engine view (the value itself).
///
/// ```no_run
/// # fn demo(client: &mpiview::Client, f: &mpiview::Remote<(), u64>) -> mpiview::Result<()> {
/// let ar = client.direct_view().apply(f, ())?;
/// while !ar.ready() { /* do something else */ }
/// let values: Vec<u64> = ar.get()?;
/// println!("{:?} took {:?} of engine time", ar.engine_ids(), ar.serial_time());
/// # Ok(()) }
/// ```
#[must_use = "an AsyncResult does nothing by itself: call get(), wait() or iterate over it"]
pub struct AsyncResult<R, M: Multiplicity = Many> {
    hub: Rc<Hub>,
    id: RequestId,
    targets: Rc<[EngineId]>,
    decode: Decode<R>,
    /// The call and the registered function or task it runs, for errors.
    call: Call,
    function: String,
    _shape: PhantomData<M>,
}

impl<R, M: Multiplicity> AsyncResult<R, M> {
    pub(crate) fn new(
        hub: Rc<Hub>,
        id: RequestId,
        targets: Rc<[EngineId]>,
        decode: Decode<R>,
        (call, function): (Call, String),
    ) -> Self {
        AsyncResult {
            hub,
            id,
            targets,
            decode,
            call,
            function,
            _shape: PhantomData,
        }
    }

    /// The engines this request went to, in target order.
    pub fn engine_ids(&self) -> &[EngineId] {
        &self.targets
    }

    /// How many engines this request went to (IPython Parallel's `len(ar)`).
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether it went to no engine (never: a view has at least one).
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Whether every engine has answered. Receives what has arrived; never blocks.
    pub fn ready(&self) -> bool {
        self.hub.pump_available();
        self.hub.is_complete(self.id)
    }

    /// How many engines have answered, of how many.
    pub fn progress(&self) -> (usize, usize) {
        self.hub.pump_available();
        self.hub
            .with_tracked(self.id, |t| (t.arrivals.len(), t.targets.len()))
    }

    /// Waits until every engine has answered, at most `timeout` (`None`: no limit); whether it
    /// is ready.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        self.hub.wait_for(self.id, timeout)
    }

    /// The work done and to do, summed over the engines whose call has reported its progress
    /// with [`Context::progress`](crate::Context::progress) (an engine that has answered counts
    /// as all done); `None` until one has. Never blocks.
    pub fn work_progress(&self) -> Option<(u64, u64)> {
        self.hub.pump_available();
        self.hub.with_tracked(self.id, |t| t.work())
    }

    /// Waits with a progress display on stderr (a bar on a terminal, also the launcher's under
    /// `mpirun`; a line every few seconds otherwise), then returns like [`wait`](Self::wait)
    /// with no limit. The display counts engines done, or, once the engines' calls report it
    /// with [`Context::progress`](crate::Context::progress), their work.
    /// [`ShowProgress::Auto`] shows it only on a terminal and only once the wait has lasted
    /// 200 ms; `MPIVIEW_PROGRESS` forces it on (`1`) or off (`0`).
    pub fn wait_with_progress(&self, show: ShowProgress) -> Result<()> {
        self.wait_showing(show, None).map(|_| ())
    }

    /// [`wait_with_progress`](Self::wait_with_progress) for at most `timeout`; whether it is
    /// ready.
    pub(crate) fn wait_showing(
        &self,
        show: ShowProgress,
        timeout: Option<Duration>,
    ) -> Result<bool> {
        let engines = self.targets.len() as u64;
        let progress = Progress::new(Some(engines), "engines", show);
        let ready = self.hub.wait_until(
            |hub| {
                let (done, all, work) =
                    hub.with_tracked(self.id, |t| (t.arrivals.len(), t.targets.len(), t.work()));
                match work {
                    Some((work_done, work_total)) => {
                        progress.retotal(work_total, "done");
                        progress.set(work_done);
                    }
                    None => progress.set(done as u64),
                }
                done == all
            },
            timeout.map(|t| std::time::Instant::now() + t),
        )?;
        if ready {
            progress.finish();
        }
        Ok(ready)
    }

    /// [`wait_with_progress`](Self::wait_with_progress) shown always (IPython Parallel's
    /// `wait_interactive`).
    pub fn wait_interactive(&self) -> Result<()> {
        self.wait_with_progress(ShowProgress::Always)
    }

    /// Stops this request on the engines that have not started it (IPython Parallel's
    /// `ar.abort()`): each answers with a remote error of kind
    /// [`Aborted`](crate::RemoteErrorKind::Aborted); engines already running it finish.
    /// Returns at once; the results are read as usual. Nothing happens in a one-rank run (its
    /// engine has run the request already).
    pub fn abort(&self) -> Result<()> {
        self.hub.pump_available();
        let unanswered: Vec<EngineId> = self.hub.with_tracked(self.id, |t| {
            t.targets
                .iter()
                .zip(&t.answers)
                .filter(|(_, a)| a.is_none())
                .map(|(&engine, _)| engine)
                .collect()
        });
        self.hub.abort_request(self.id, &unanswered)
    }

    /// Waits for every engine and returns the results, or every engine's error together.
    pub fn get(&self) -> Result<M::Out<R>> {
        self.wait(None)?;
        self.collect()
    }

    /// Like [`get`](Self::get), but gives up after `timeout` with [`Error::Timeout`]; the
    /// request goes on and can be waited for again.
    pub fn get_timeout(&self, timeout: Duration) -> Result<M::Out<R>> {
        if !self.wait(Some(timeout))? {
            return Err(Error::Timeout(timeout));
        }
        self.collect()
    }

    /// Waits for every engine and returns each one's result or error, side by side in target
    /// order (the failing engines do not hide the others' results; IPython Parallel's
    /// `return_exceptions=True`). A failure is an [`Error::Remote`] naming its engine, as in a
    /// map's [`get_each`](crate::MapResult::get_each).
    pub fn get_each(&self) -> Result<Vec<Result<R>>> {
        Ok(self
            .each()?
            .into_iter()
            .map(|r| r.map_err(Error::from))
            .collect())
    }

    /// Waits for every engine and returns the results keyed by engine id (IPython Parallel's
    /// `get_dict`), or every engine's error together.
    ///
    /// ```no_run
    /// # fn demo(client: &mpiview::Client, f: &mpiview::Remote<(), u64>) -> mpiview::Result<()> {
    /// let by_engine = client.view([0, 2])?.apply(f, ())?.get_dict()?;
    /// println!("engine 2 says {}", by_engine[&2]);
    /// # Ok(()) }
    /// ```
    pub fn get_dict(&self) -> Result<BTreeMap<EngineId, R>> {
        let values = values_or_errors(self.each()?)?;
        Ok(self.targets.iter().copied().zip(values).collect())
    }

    /// Each engine's result or remote error, in target order, once all have answered.
    fn each(&self) -> Result<Vec<std::result::Result<R, RemoteError>>> {
        self.wait(None)?;
        Ok(self.hub.with_tracked(self.id, |t| {
            (0..t.targets.len())
                .map(|pos| {
                    self.decode_slot(t.targets[pos], t.answers[pos].as_ref().expect("complete"))
                })
                .collect()
        }))
    }

    fn collect(&self) -> Result<M::Out<R>> {
        Ok(M::collect(values_or_errors(self.each()?)?))
    }

    fn decode_slot(&self, engine: EngineId, slot: &Answer) -> std::result::Result<R, RemoteError> {
        match &slot.body {
            Body::Failed { function, failure } => Err(remote_error(
                engine,
                self.call,
                function,
                failure.clone(),
                None,
            )),
            body => (self.decode)(body)
                .map_err(|f| remote_error(engine, self.call, &self.function, f, None)),
        }
    }

    /// The results in target order, each as soon as its engine has answered.
    pub fn iter(&self) -> impl Iterator<Item = Result<(EngineId, R)>> + '_ {
        (0..self.targets.len()).map(move |pos| self.wait_position(|_| Some(pos)))
    }

    /// The results in the order they arrive.
    pub fn iter_unordered(&self) -> impl Iterator<Item = Result<(EngineId, R)>> + '_ {
        (0..self.targets.len()).map(move |k| self.wait_position(|t| t.arrivals.get(k).copied()))
    }

    /// Waits until `which` names an arrived position; decodes it.
    fn wait_position(&self, which: impl Fn(&Tracked) -> Option<usize>) -> Result<(EngineId, R)> {
        let arrived = |hub: &Hub| {
            hub.with_tracked(self.id, |t| {
                which(t).is_some_and(|p| t.answers[p].is_some())
            })
        };
        self.hub.wait_until(arrived, None)?;
        self.hub.with_tracked(self.id, |t| {
            let pos = which(t).expect("arrived");
            let engine = t.targets[pos];
            self.decode_slot(engine, t.answers[pos].as_ref().expect("arrived"))
                .map(|v| (engine, v))
                .map_err(Error::from)
        })
    }

    /// What each engine's call printed to stdout, in target order (lossy UTF-8), as far as it
    /// has come: nothing from an engine that has not answered yet, unless the view streams
    /// output ([`stream_output`](crate::DirectView::stream_output): the pieces received so
    /// far); nothing at all for a view that neither captures nor streams
    /// ([`capture_output`](crate::DirectView::capture_output)).
    pub fn stdout(&self) -> Vec<String> {
        self.outputs(|o| &o.stdout)
    }

    /// What each engine's call printed to stderr, in target order, like [`stdout`](Self::stdout).
    pub fn stderr(&self) -> Vec<String> {
        self.outputs(|o| &o.stderr)
    }

    fn outputs(&self, stream: impl Fn(&Output) -> &Vec<u8>) -> Vec<String> {
        self.hub.pump_available();
        self.hub.with_tracked(self.id, |t| {
            t.answers
                .iter()
                .enumerate()
                .map(|(pos, a)| {
                    // Streamed pieces first, then the rest that came with the answer.
                    let mut bytes = t.printed.get(pos).map_or(&[][..], |p| stream(p)).to_vec();
                    if let Some(rest) = a.as_ref().and_then(|a| a.output.as_ref()) {
                        bytes.extend_from_slice(stream(rest));
                    }
                    String::from_utf8_lossy(&bytes).into_owned()
                })
                .collect()
        })
    }

    /// Prints what the engines' calls printed, as IPython Parallel's `display_outputs`: for each
    /// engine in target order, `[stdout:ID]` and its output on this process's stdout, then
    /// `[stderr:ID]` and its errors on stderr (engines that printed nothing are left out).
    pub fn display_outputs(&self) {
        print!("{}", labelled("stdout", &self.targets, &self.stdout()));
        eprint!("{}", labelled("stderr", &self.targets, &self.stderr()));
    }

    /// When the request was submitted.
    pub fn submitted(&self) -> SystemTime {
        self.hub
            .with_tracked(self.id, |t| to_system_time(t.submitted))
    }

    /// Each engine's timing in target order (`None` where it has not answered yet).
    pub fn timings(&self) -> Vec<Option<EngineTiming>> {
        self.hub.pump_available();
        self.hub.with_tracked(self.id, |t| {
            t.targets
                .iter()
                .zip(&t.answers)
                .map(|(&engine, s)| {
                    s.as_ref().map(|s| EngineTiming {
                        engine,
                        started: to_system_time(s.started),
                        completed: to_system_time(s.completed),
                        received: to_system_time(s.received),
                    })
                })
                .collect()
        })
    }

    /// Time from submission to the last reply received (or to now, while waiting).
    pub fn elapsed(&self) -> Duration {
        let (submitted, last, complete) = self.hub.with_tracked(self.id, |t| {
            let last = t
                .answers
                .iter()
                .flatten()
                .map(|s| s.received)
                .fold(f64::NAN, f64::max);
            (t.submitted, last, t.is_complete())
        });
        let end = if complete { last } else { crate::clock::now() };
        Duration::from_secs_f64((end - submitted).max(0.0))
    }

    /// IPython Parallel's `wall_time`: last completion on an engine minus submission; `None`
    /// until every engine has answered (as every result type answers).
    pub fn wall_time(&self) -> Option<Duration> {
        let timings = self.complete_timings()?;
        wall_time(self.submitted(), &timings)
    }

    /// IPython Parallel's `serial_time`: the engines' compute times added up; `None` until
    /// every engine has answered.
    pub fn serial_time(&self) -> Option<Duration> {
        Some(serial_time(&self.complete_timings()?))
    }

    /// Every engine's timing, once all have answered.
    fn complete_timings(&self) -> Option<Vec<EngineTiming>> {
        self.timings().into_iter().collect()
    }
}

/// Each engine's non-empty output under a `[stream:ID]` line, as IPython Parallel shows it.
fn labelled(stream: &str, engines: &[EngineId], outputs: &[String]) -> String {
    let mut text = String::new();
    for (engine, output) in engines.iter().zip(outputs) {
        if output.is_empty() {
            continue;
        }
        text.push_str(&format!("[{stream}:{engine}] "));
        text.push_str(output);
        if !output.ends_with('\n') {
            text.push('\n');
        }
    }
    text
}

/// The values, or every error together.
fn values_or_errors<R>(each: Vec<std::result::Result<R, RemoteError>>) -> Result<Vec<R>> {
    let mut values = Vec::with_capacity(each.len());
    let mut errors = Vec::new();
    for r in each {
        match r {
            Ok(v) => values.push(v),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors.into())
    }
}

impl<R, M: Multiplicity> Drop for AsyncResult<R, M> {
    fn drop(&mut self) {
        self.hub.release(self.id);
    }
}

impl<R, M: Multiplicity> std::fmt::Debug for AsyncResult<R, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncResult")
            .field("id", &self.id)
            .field("targets", &self.targets)
            .finish()
    }
}
