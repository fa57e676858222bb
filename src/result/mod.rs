//! Results of requests: [`AsyncResult`] for direct views, with per-engine timings.

mod async_result;
mod multiplicity;
pub(crate) mod progress;
mod timing;

pub use async_result::AsyncResult;
pub(crate) use async_result::{decode_ack, decode_value};
pub use multiplicity::{Many, Multiplicity, One};
pub use timing::EngineTiming;
