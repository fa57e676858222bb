//! Rank 0's side of a job: run the driver, then stop the engines.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use mpi::topology::{Communicator, SimpleCommunicator};

use super::startup::{Comms, Roster, host_name, welcome_engines};
use crate::client::Client;
use crate::comm::poll;
use crate::exit::{DriverExit, Outcome};
use crate::hub::Hub;
use crate::hub::link::{Link, LocalLink, MpiLink};
use crate::nodes::{EngineInfo, Node};
use crate::registry::Registry;
use crate::settings;

/// A one-rank run: the driver with one in-process engine.
pub(super) fn run_local<F, T>(registry: Rc<Registry>, driver: F) -> u8
where
    F: FnOnce(&Client) -> T,
    T: DriverExit,
{
    if let Some(e) = settings::error() {
        report(&Outcome::failure(2, e.to_string()));
        return 2;
    }
    let shared = &settings::get().shared;
    poll::configure(&shared.polling, false);
    let host = host_name();
    let engines = vec![EngineInfo {
        id: 0,
        pid: std::process::id(),
        host: host.clone(),
        node: 0,
    }];
    let nodes = vec![Node {
        index: 0,
        name: host,
        engines: vec![0],
    }];
    let link = Link::Local(LocalLink::new(shared.buffer_pool_bytes));
    let client = Client::new(Hub::new(engines, nodes, registry, link, vec![0]));
    let outcome = drive(&client, driver);
    report(&outcome);
    outcome.code
}

/// Rank 0 of an MPI run.
pub(super) fn run_controller<F, T>(
    world: &SimpleCommunicator,
    comms: Comms,
    registry: Rc<Registry>,
    driver: F,
) -> u8
where
    F: FnOnce(&Client) -> T,
    T: DriverExit,
{
    let n_engines = world.size() as usize - 1;
    let roster = welcome_engines(&comms, n_engines, &registry);
    let Comms {
        ctrl,
        factory,
        all,
        node,
        // Kept until the end: the engines make their communicator from it.
        engines_parent: _engines_parent,
    } = comms;
    let Roster { engines, nodes } = match roster {
        Ok(roster) => roster,
        Err(e) => {
            // The engines were told to exit with the same status.
            let outcome = Outcome::failure(e.exit_code(), e.to_string());
            report(&outcome);
            return outcome.code;
        }
    };
    let link = Link::Mpi(MpiLink::new(ctrl, factory, all));
    let client = Client::new(Hub::new(engines, nodes, registry, link, node.ranks));
    let outcome = drive(&client, driver);
    report(&outcome);
    finish(&client, outcome.code, world)
}

/// Stops the engines and returns the exit status; aborts the job if they do not stop in time
/// after a failure.
///
/// Engines finish what was sent to them before they stop. Whether the driver failed or not,
/// they get `MPIVIEW_SHUTDOWN_GRACE_S` (3 s) to do so: a driver that returns while an engine
/// still runs a request it gave up on (after `get_timeout`, or a dropped result) must not leave
/// the job running until a batch system's time limit. Past the grace the job is aborted with a
/// message naming each busy engine and what it runs, and a non-zero status.
fn finish(client: &Client, code: u8, world: &SimpleCommunicator) -> u8 {
    let grace = settings::get().shutdown_grace;
    match client.hub.shutdown(code, Some(grace)) {
        Ok(true) => code,
        Ok(false) => {
            let hub = &client.hub;
            let busy: Vec<String> = hub
                .busy()
                .into_iter()
                .map(|(e, what)| {
                    let info = &hub.engines[e];
                    format!(
                        "engine {e} (rank {}, host {}) runs {what}",
                        e + 1,
                        info.host
                    )
                })
                .collect();
            let after = if code == 0 {
                "the driver returned"
            } else {
                "the driver failed"
            };
            super::abort_saying(
                world,
                i32::from(code.max(1)),
                &format!(
                    "error: engines still busy {:.1} s after {after}: {}; aborting the job",
                    grace.as_secs_f64(),
                    if busy.is_empty() {
                        "(none of them answered the request to stop)".to_string()
                    } else {
                        busy.join(", ")
                    }
                ),
            )
        }
        Err(e) => super::abort_saying(
            world,
            i32::from(code.max(1)),
            &format!("error: stopping the engines failed: {e}; aborting the job"),
        ),
    }
}

/// Runs the driver; a panic becomes a failure (exit code 101, like an uncaught Rust panic).
fn drive<F, T>(client: &Client, driver: F) -> Outcome
where
    F: FnOnce(&Client) -> T,
    T: DriverExit,
{
    match catch_unwind(AssertUnwindSafe(|| driver(client))) {
        Ok(value) => value.into_outcome(),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            Outcome::failure(101, format!("the driver panicked: {message}"))
        }
    }
}

fn report(outcome: &Outcome) {
    if let Some(message) = &outcome.message {
        super::say(&format!("error: {message}"));
    }
}
