//! The wire format between the controller and the engines, in one place.
//!
//! Control messages are point-to-point on a private duplicate of `MPI_COMM_WORLD`: the controller
//! sends [`Request`]s to each engine in order on [`TAG_MSG`], engines answer with [`Reply`]s on
//! the same tag. MPI keeps messages between two ranks on one tag in order, so an engine sees its
//! requests in the order the controller issued them. A message is framed by its first byte:
//! [`FRAME_INLINE`] (the postcard-encoded message follows) or [`FRAME_LARGE`] (an 8-byte length
//! follows; the message itself comes next on [`TAG_BULK`]), so that receivers can post one
//! fixed-size receive.
//!
//! Bulk numeric data never travels here: it moves with MPI collectives (`Bcast`, `Scatterv`,
//! `Gatherv`) on a view's communicator, or as native point-to-point messages on [`TAG_DATA`],
//! right after the control message that announces it.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::Result;
use crate::registry::{Failure, Mapped};
use crate::value::{DType, TypeSpec, WireValue};

/// Control messages.
pub(crate) const TAG_MSG: i32 = 1;
/// The body of a control message too large for the fixed receive buffer.
pub(crate) const TAG_BULK: i32 = 2;
/// Native array data that follows a control message point-to-point.
pub(crate) const TAG_DATA: i32 = 3;
/// Start-up greetings from engines.
pub(crate) const TAG_HELLO: i32 = 4;

/// Size of the fixed receive buffer for control messages; larger ones go as bulk.
pub(crate) const INLINE_MAX: usize = 16 * 1024;

pub(crate) const FRAME_INLINE: u8 = 0;
pub(crate) const FRAME_LARGE: u8 = 1;

/// Identifies a request (direct) or a task (load-balanced) across controller and engines.
pub(crate) type RequestId = u64;

/// The id of an engine's last reply, sent when it stops serving.
pub(crate) const SHUTDOWN_ID: RequestId = u64::MAX;

/// Identifies a view communicator (controller + a list of engines) on every member.
pub(crate) type CommId = u32;

/// Controller → engine.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Call a registered function once; reply `Value`.
    Apply {
        id: RequestId,
        func: u32,
        args: Vec<u8>,
    },
    /// Run a registered task; reply `Ack`.
    Execute { id: RequestId, task: u32 },
    /// Call a registered function on each item of a chunk; reply `Items`.
    Map {
        id: RequestId,
        func: u32,
        items: Vec<u8>,
    },
    /// Store values. Inline values are in the message; the data of array values follows, in
    /// order, as broadcasts on `comm`. Reply `Ack`.
    Push {
        id: RequestId,
        comm: Option<CommId>,
        values: Vec<(String, WireValue)>,
    },
    /// Send values back, each checked against its type first. Reply `Pulled`; the data of array
    /// values follows on `TAG_DATA`, in order.
    Pull {
        id: RequestId,
        names: Vec<(String, TypeSpec)>,
    },
    /// Receive a partition of an array by `Scatterv` on `comm`; store it under `name`. No reply.
    Scatter {
        name: String,
        comm: CommId,
        dtype: DType,
        /// Shape of one item (the array's shape without axis 0).
        item_shape: Vec<u64>,
        /// Length of axis 0 of the whole array (split by the block rule over `comm`).
        rows: u64,
        /// Store a single-item partition as the item itself.
        flatten: bool,
    },
    /// Take part in a gather of `name` on `comm`: reply `Shape`, then receive the controller's
    /// decision by `Bcast` (`[go, total elements]`) and, on go, send the data by `Gatherv`.
    Gather {
        id: RequestId,
        name: String,
        comm: CommId,
        dtype: DType,
    },
    /// Remove values (`None`: all). Reply `Ack`.
    Clear {
        id: RequestId,
        names: Option<Vec<String>>,
    },
    /// Reply `Ack`, then create the communicator `comm` over world ranks `members` (the
    /// controller first) with `MPI_Comm_create_group`.
    NewComm {
        id: RequestId,
        comm: CommId,
        members: Vec<i32>,
    },
    /// Skip these queued requests (load-balanced tasks not yet started); each gets an `Aborted`
    /// failure as its reply.
    Abort { ids: Vec<RequestId> },
    /// Stop serving; finalize and exit with `status`.
    Shutdown { status: u8 },
}

/// Engine → controller.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Reply {
    pub id: RequestId,
    /// When the engine started the request (seconds since the Unix epoch).
    pub started: f64,
    /// When it finished.
    pub completed: f64,
    pub body: ReplyBody,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ReplyBody {
    /// Done, nothing to return.
    Ack,
    /// An encoded result.
    Value(Vec<u8>),
    /// A `Map` chunk's values and failures.
    Mapped(Mapped),
    /// Pulled values, each one or its failure.
    Pulled(Vec<std::result::Result<WireValue, Failure>>),
    /// The shape this engine contributes to a gather, or why it cannot.
    Shape(std::result::Result<Vec<u64>, Failure>),
    /// The request failed as a whole.
    Failed { function: String, failure: Failure },
}

/// What an engine tells the controller at start-up (on `TAG_HELLO`).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Hello {
    pub pid: u32,
    /// `MPI_Get_processor_name`: ranks with the same name share a node.
    pub host: String,
    /// The CPUs this rank may run on (a 1024-bit mask).
    pub cpus: Vec<u64>,
    /// Fingerprint of the remote-function table.
    pub registry: u64,
    /// The PID namespace (see [`doorbell`](crate::comm::doorbell)); 0 when unknown.
    pub pid_ns: u64,
}

/// The controller's answer to a `Hello` (on `TAG_HELLO`).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Welcome {
    /// The engine's node holds more ranks than CPUs: waits yield the core.
    pub oversubscribed: bool,
    /// The controller's process id when it can ring this engine's doorbell (same host, same PID
    /// namespace), for the engine to ring back.
    pub controller_pid: Option<u32>,
}

/// Encodes `msg` into one inline frame, or a large-frame marker plus the bulk body.
pub(crate) fn frame<T: Serialize>(msg: &T) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    let body = postcard::to_stdvec(msg)?;
    if body.len() < INLINE_MAX {
        let mut framed = Vec::with_capacity(body.len() + 1);
        framed.push(FRAME_INLINE);
        framed.extend_from_slice(&body);
        Ok((framed, None))
    } else {
        let mut marker = vec![FRAME_LARGE];
        marker.extend_from_slice(&(body.len() as u64).to_le_bytes());
        Ok((marker, Some(body)))
    }
}

/// What a received frame holds.
pub(crate) enum Frame<'a> {
    Inline(&'a [u8]),
    Large(usize),
}

/// Reads a received frame.
pub(crate) fn unframe(bytes: &[u8]) -> Result<Frame<'_>> {
    match bytes.split_first() {
        Some((&FRAME_INLINE, body)) => Ok(Frame::Inline(body)),
        Some((&FRAME_LARGE, len)) if len.len() == 8 => {
            let len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
            Ok(Frame::Large(len as usize))
        }
        _ => Err(crate::Error::Runtime(format!(
            "corrupt control frame of {} bytes",
            bytes.len()
        ))),
    }
}

/// Decodes a message body.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    Ok(postcard::from_bytes(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_messages_are_inline_and_large_ones_bulk() {
        let small = Request::Apply {
            id: 7,
            func: 1,
            args: vec![1, 2, 3],
        };
        let (f, bulk) = frame(&small).unwrap();
        assert!(bulk.is_none());
        match unframe(&f).unwrap() {
            Frame::Inline(body) => match decode::<Request>(body).unwrap() {
                Request::Apply { id, func, args } => {
                    assert_eq!((id, func, args), (7, 1, vec![1, 2, 3]))
                }
                other => panic!("{other:?}"),
            },
            Frame::Large(_) => panic!("small message framed as large"),
        }
        let big = Request::Apply {
            id: 8,
            func: 0,
            args: vec![9; INLINE_MAX * 2],
        };
        let (f, bulk) = frame(&big).unwrap();
        let bulk = bulk.expect("bulk body");
        match unframe(&f).unwrap() {
            Frame::Large(n) => assert_eq!(n, bulk.len()),
            Frame::Inline(_) => panic!("large message framed inline"),
        }
        assert!(matches!(
            decode::<Request>(&bulk).unwrap(),
            Request::Apply { id: 8, .. }
        ));
        assert!(unframe(&[9]).is_err());
        assert!(unframe(&[]).is_err());
    }
}
