//! The wire format between the controller and the engines, in one place.
//!
//! **Channels.** The controller reaches an engine point-to-point on a private duplicate of
//! `MPI_COMM_WORLD` (its *direct* channel, [`TAG_MSG`]) or, for a request to every engine of a
//! view of several engines, by one `MPI_Ibcast` on the view's request communicator (the view's
//! *broadcast* channel; see [`comm::channel`](crate::comm::channel)). Every message is an
//! [`Envelope`]: the request and its [fences](crate::order), which keep each engine's requests
//! in issue order across channels.
//!
//! **Replies.** An engine answers a direct request point-to-point ([`TAG_MSG`]). A broadcast
//! request asks for a reply *slot* of a fixed size: every engine of the view joins one
//! `MPI_Igather` of its slot on the view's reply communicator when it has its answer. A reply
//! too large for its slot goes point-to-point and the slot says so ([`Slot`]).
//!
//! **Framing.** A point-to-point message's first byte frames it: [`FRAME_INLINE`] (postcard
//! follows) or [`FRAME_LARGE`] (an 8-byte length follows; the message itself comes next on
//! [`TAG_BULK`]), so that receivers can post one fixed-size receive.
//!
//! Bulk numeric data never travels here: it moves with MPI collectives (`Bcast`, `Scatterv`,
//! `Gatherv`) on a view's data communicator, or as native point-to-point messages on
//! [`TAG_DATA`], right after the reply that announces it.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::Result;
use crate::ids::{RequestId, ViewId};
use crate::order::Fence;
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

/// The id of an engine's last reply, sent when it stops serving.
pub(crate) const SHUTDOWN_ID: RequestId = u64::MAX;

/// A request and what must run before it on the engine that gets it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Envelope {
    /// Messages of other channels this engine must have accepted first.
    pub fences: Vec<Fence>,
    /// The size of this request's reply slot in the view's reply gather; 0: reply directly.
    pub slot: u32,
    pub request: Request,
}

/// What happens to what a call prints on its engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OutputMode {
    /// It goes where the engine's output goes (the launcher's).
    #[default]
    Inherit,
    /// Captured, and sent back with the answer.
    Capture,
    /// Captured, and sent back in pieces while the call runs (at its progress points:
    /// `Context::progress`, `Context::flush_output`), the rest with the answer.
    Stream,
}

/// Controller → engine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Call a registered function once; reply `Value`. `capture`: what happens to what it
    /// prints.
    Apply {
        id: RequestId,
        func: u32,
        #[serde(with = "serde_bytes")]
        args: Vec<u8>,
        capture: OutputMode,
    },
    /// Run a registered task; reply `Ack` (`capture` as for `Apply`).
    Execute {
        id: RequestId,
        task: u32,
        capture: OutputMode,
    },
    /// Call a registered function on each item of a chunk; reply `Mapped`.
    Map {
        id: RequestId,
        func: u32,
        #[serde(with = "serde_bytes")]
        items: Vec<u8>,
    },
    /// Several chunks of one map in one message (load-balanced tasks too small to be worth a
    /// message each): run in order, each like a `Map`; their replies come back together, as
    /// one [`ReplyBody::Batch`] or several (see [`engine::batch`](crate::engine::batch)).
    Maps { func: u32, chunks: Vec<MapChunk> },
    /// Store values. Inline values are in the message; the data of array values follows, in
    /// order, as broadcasts on the data communicator of `view`. No reply: storing cannot fail,
    /// and later requests run after it.
    Push {
        view: Option<ViewId>,
        values: Vec<(String, WireValue)>,
    },
    /// Send values back, each checked against its type first. Reply `Pulled`; the data of array
    /// values follows on `TAG_DATA`, in order: on the view's data communicator for a broadcast
    /// request, on the direct channel's communicator otherwise.
    Pull {
        id: RequestId,
        names: Vec<(String, TypeSpec)>,
    },
    /// Receive a partition of an array by `Scatterv` on the data communicator of `view`; store
    /// it under `name`. No reply.
    Scatter {
        name: String,
        view: ViewId,
        dtype: DType,
        /// Shape of one item (the array's shape without axis 0).
        item_shape: Vec<u64>,
        /// Length of axis 0 of the whole array (split by the block rule over the view).
        rows: u64,
        /// Store a single-item partition as the item itself.
        flatten: bool,
    },
    /// Take part in a gather of `name` on the data communicator of `view`: reply `Shape`, then
    /// receive the controller's decision by `Bcast` (`[go, total elements]`) and, on go, send
    /// the data by `Gatherv`.
    Gather {
        id: RequestId,
        name: String,
        view: ViewId,
        dtype: DType,
    },
    /// Remove values (`None`: all). Reply `Ack`.
    Clear {
        id: RequestId,
        names: Option<Vec<String>>,
    },
    /// The first phase of creating the communicators of `view` over world ranks `members` (the
    /// controller first): reply `Ack`, then wait for [`Request::CreateView`] and run nothing
    /// else until it comes, so that no member enters `MPI_Comm_create_group` before every
    /// member is ready.
    NewView {
        id: RequestId,
        view: ViewId,
        members: Vec<i32>,
    },
    /// Out of band: every member of `view` is ready; create its communicators now.
    CreateView { view: ViewId },
    /// Out of band: skip these queued requests (load-balanced tasks not yet started); each gets
    /// an `Aborted` failure as its reply.
    Abort { ids: Vec<RequestId> },
    /// Stop serving; finalize and exit with `status`.
    Shutdown { status: u8 },
}

/// One chunk of a [`Request::Maps`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct MapChunk {
    pub id: RequestId,
    #[serde(with = "serde_bytes")]
    pub items: Vec<u8>,
}

impl Request {
    /// Messages that act when they arrive: they are neither counted nor fenced.
    pub(crate) fn is_out_of_band(&self) -> bool {
        matches!(self, Request::CreateView { .. } | Request::Abort { .. })
    }
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
    /// What the call printed, for requests that asked for it.
    pub output: Option<Output>,
}

/// What a call wrote to stdout and stderr on its engine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Output {
    #[serde(with = "serde_bytes")]
    pub stdout: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub stderr: Vec<u8>,
    /// With an answer: how many printed pieces of the call went before it (streamed output),
    /// so that the controller files the answer only after them.
    pub pieces: u32,
}

impl Output {
    /// Appends `more` (a later piece).
    pub(crate) fn append(&mut self, more: &Output) {
        self.stdout.extend_from_slice(&more.stdout);
        self.stderr.extend_from_slice(&more.stderr);
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ReplyBody {
    /// Done, nothing to return.
    Ack,
    /// An encoded result.
    Value(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A `Map` chunk's values and failures.
    Mapped(Mapped),
    /// Pulled values, each one or its failure.
    Pulled(Vec<std::result::Result<WireValue, Failure>>),
    /// The shape this engine contributes to a gather, or why it cannot.
    Shape(std::result::Result<Vec<u64>, Failure>),
    /// The request failed as a whole.
    Failed { function: String, failure: Failure },
    /// Not an answer: how far the running call has come (`Context::progress`). Always sent
    /// point-to-point, before the answer.
    Progress { done: u64, total: u64 },
    /// Not an answer: what the running call has printed since its last piece (a call whose
    /// output streams). Point-to-point, before the answer.
    Printed(Output),
    /// Replies to chunks of a [`Request::Maps`], in the order they ran, in one message (the
    /// outer reply's id is the first one's, its times span them all).
    Batch(Vec<Reply>),
}

/// Encodes `msg` into one inline frame, or a large-frame marker plus the bulk body.
pub(crate) fn frame<T: Serialize>(msg: &T) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    // Encoded after the frame byte, in one buffer: most messages are a few dozen bytes.
    let mut framed = Vec::with_capacity(64);
    framed.push(FRAME_INLINE);
    let mut framed = postcard::to_extend(msg, framed)?;
    if framed.len() <= INLINE_MAX {
        Ok((framed, None))
    } else {
        let body = framed.split_off(1);
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

/// A reply slot of a gathered reply: `[kind: u8][length: u32 LE][postcard of the Reply]`, padded
/// with zeros to the slot size.
pub(crate) struct Slot;

impl Slot {
    /// The reply is in the slot.
    const INLINE: u8 = 1;
    /// The reply went point-to-point: wait for it there.
    const DIRECT: u8 = 2;
    /// Bytes before the encoded reply.
    pub(crate) const HEADER: usize = 5;
    /// The smallest slot: an acknowledgement with its timings fits.
    pub(crate) const MIN: usize = 64;

    /// Writes `reply` into a slot of `size` bytes; `None` if it does not fit (the slot then says
    /// "sent directly": [`direct`](Self::direct)).
    pub(crate) fn encode(reply: &Reply, size: usize) -> Result<Option<Vec<u8>>> {
        let mut slot = vec![0u8; size.max(Self::HEADER)];
        let fits = postcard::to_slice(reply, &mut slot[Self::HEADER..])
            .map(|used| used.len())
            .ok();
        Ok(fits.map(|len| {
            slot[0] = Self::INLINE;
            slot[1..Self::HEADER].copy_from_slice(&(len as u32).to_le_bytes());
            slot
        }))
    }

    /// A slot that says the reply went point-to-point.
    pub(crate) fn direct(size: usize) -> Vec<u8> {
        let mut slot = vec![0u8; size.max(Self::HEADER)];
        slot[0] = Self::DIRECT;
        slot
    }

    /// Reads a slot: the reply, or `None` when it went point-to-point.
    pub(crate) fn decode(slot: &[u8]) -> Result<Option<Reply>> {
        match slot.first() {
            Some(&Self::INLINE) if slot.len() >= Self::HEADER => {
                let len = u32::from_le_bytes(slot[1..Self::HEADER].try_into().expect("4 bytes"));
                let body = slot
                    .get(Self::HEADER..Self::HEADER + len as usize)
                    .ok_or_else(|| crate::Error::Runtime("a reply slot overflows".into()))?;
                Ok(Some(decode(body)?))
            }
            Some(&Self::DIRECT) => Ok(None),
            _ => Err(crate::Error::Runtime("a corrupt reply slot".into())),
        }
    }
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
            capture: OutputMode::Inherit,
        };
        let (f, bulk) = frame(&small).unwrap();
        assert!(bulk.is_none());
        match unframe(&f).unwrap() {
            Frame::Inline(body) => match decode::<Request>(body).unwrap() {
                Request::Apply { id, func, args, .. } => {
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
            capture: OutputMode::Stream,
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

    #[test]
    fn replies_fill_their_slot_or_say_they_went_directly() {
        let ack = Reply {
            id: u64::MAX - 1,
            started: 1.7e9,
            completed: 1.7e9 + 1.0,
            body: ReplyBody::Ack,
            output: None,
        };
        let slot = Slot::encode(&ack, Slot::MIN).unwrap().expect("an ack fits");
        assert_eq!(slot.len(), Slot::MIN);
        let back = Slot::decode(&slot).unwrap().expect("inline");
        assert_eq!((back.id, back.completed), (ack.id, ack.completed));
        let big = Reply {
            body: ReplyBody::Value(vec![7; 100]),
            ..ack
        };
        assert!(Slot::encode(&big, Slot::MIN).unwrap().is_none());
        assert!(Slot::decode(&Slot::direct(Slot::MIN)).unwrap().is_none());
        assert!(Slot::decode(&[0; 8]).is_err());
        let mut overflow = Slot::encode(&big, 256).unwrap().unwrap();
        overflow[1..5].copy_from_slice(&1000u32.to_le_bytes());
        assert!(Slot::decode(&overflow).is_err());
    }
}
