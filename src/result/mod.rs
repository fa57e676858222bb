//! Results of requests: [`AsyncResult`] for direct requests, [`MapResult`] for maps (and
//! [`TaskResult`] for one load-balanced task), with per-engine and per-task timings.

mod async_result;
mod launcher_terminal;
mod map_ref_iter;
mod map_result;
mod multiplicity;
pub(crate) mod progress;
mod timing;
mod transfer_result;

pub use async_result::AsyncResult;
pub(crate) use async_result::{decode_ack, decode_pulled, decode_value};
pub use map_ref_iter::MapRefIter;
pub use map_result::{MapIter, MapResult, TaskResult, TaskTiming};
pub use multiplicity::{Many, Multiplicity, One};
pub use progress::ShowProgress;
pub use timing::EngineTiming;
pub use transfer_result::TransferResult;
