//! Rank 0's side of a job: run the driver, then stop the engines.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::Duration;

use mpi::topology::{Communicator, SimpleCommunicator};

use super::startup::{Roster, host_name, welcome_engines};
use crate::client::Client;
use crate::client::core::Core;
use crate::client::link::{Link, LocalLink, MpiLink};
use crate::client::nodes::{EngineInfo, Node};
use crate::comm::poll;
use crate::exit::{DriverExit, Outcome};
use crate::registry::Registry;

/// How long engines get to stop after a failed driver before the job is aborted
/// (`MPIVIEW_SHUTDOWN_GRACE_S` overrides).
const DEFAULT_GRACE: Duration = Duration::from_secs(3);

/// A one-rank run: the driver with one in-process engine.
pub(super) fn run_local<F, T>(registry: Rc<Registry>, driver: F) -> u8
where
    F: FnOnce(&Client) -> T,
    T: DriverExit,
{
    poll::configure(false);
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
    let client = Client::new(Core::new(
        engines,
        nodes,
        registry,
        Link::Local(LocalLink::new()),
    ));
    let outcome = drive(&client, driver);
    report(&outcome);
    outcome.code
}

/// Rank 0 of an MPI run.
pub(super) fn run_controller<F, T>(
    world: &SimpleCommunicator,
    ctrl: SimpleCommunicator,
    factory: SimpleCommunicator,
    registry: Rc<Registry>,
    driver: F,
) -> u8
where
    F: FnOnce(&Client) -> T,
    T: DriverExit,
{
    let n_engines = world.size() as usize - 1;
    let roster = welcome_engines(&ctrl, n_engines, &registry);
    let link = Link::Mpi(MpiLink::new(ctrl, factory));
    let (client, outcome) = match roster {
        Ok(Roster { engines, nodes }) => {
            let client = Client::new(Core::new(engines, nodes, registry, link));
            let outcome = drive(&client, driver);
            (client, outcome)
        }
        Err(e) => {
            let placeholder = (0..n_engines)
                .map(|id| EngineInfo {
                    id,
                    pid: 0,
                    host: String::new(),
                    node: 0,
                })
                .collect();
            let client = Client::new(Core::new(placeholder, Vec::new(), registry, link));
            (client, Outcome::failure(e.exit_code(), e.to_string()))
        }
    };
    report(&outcome);
    finish(&client, outcome.code, world)
}

/// Stops the engines and returns the exit status; aborts the job if they do not stop in time
/// after a failure.
fn finish(client: &Client, code: u8, world: &SimpleCommunicator) -> u8 {
    let grace = (code != 0).then(|| {
        std::env::var("MPIVIEW_SHUTDOWN_GRACE_S")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .map_or(DEFAULT_GRACE, Duration::from_secs_f64)
    });
    match client.core.shutdown(code, grace) {
        Ok(true) => code,
        Ok(false) => {
            eprintln!(
                "error: engines still busy {:.1} s after the driver failed; aborting the job",
                grace.unwrap_or_default().as_secs_f64()
            );
            world.abort(i32::from(code.max(1)))
        }
        Err(e) => {
            eprintln!("error: stopping the engines failed: {e}; aborting the job");
            world.abort(i32::from(code.max(1)))
        }
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
        eprintln!("error: {message}");
    }
}
