//! A reply as the controller sees it: pulled arrays already received, ready to decode.

use crate::error::{Call, RemoteError};
use crate::ids::EngineId;
use crate::protocol::ReplyBody;
use crate::registry::{Failure, Mapped};
use crate::value::Value;

/// A reply's content.
pub(crate) enum Body {
    Ack,
    Value(Vec<u8>),
    Mapped(Mapped),
    Pulled(Vec<Result<Value, Failure>>),
    Shape(Result<Vec<u64>, Failure>),
    Failed { function: String, failure: Failure },
}

impl Body {
    /// The body of a reply that carries no arrays.
    ///
    /// # Panics
    /// On a `Pulled` reply: its arrays must be received first.
    pub(crate) fn from_plain(body: ReplyBody) -> Body {
        match body {
            ReplyBody::Ack => Body::Ack,
            ReplyBody::Value(v) => Body::Value(v),
            ReplyBody::Mapped(m) => Body::Mapped(m),
            ReplyBody::Shape(s) => Body::Shape(s),
            ReplyBody::Failed { function, failure } => Body::Failed { function, failure },
            ReplyBody::Pulled(_) => unreachable!("pulled values need their data received"),
            ReplyBody::Progress { .. } | ReplyBody::Printed(_) => {
                unreachable!("progress reports and printed pieces are not answers")
            }
            ReplyBody::Batch(_) => unreachable!("a batch of replies is filed reply by reply"),
        }
    }
}

/// Turns a failure reply into the error of `engine`.
pub(crate) fn remote_error(
    engine: EngineId,
    call: Call,
    function: &str,
    failure: Failure,
    item: Option<u64>,
) -> RemoteError {
    RemoteError {
        engine,
        call,
        function: function.to_string(),
        kind: failure.kind,
        message: failure.message,
        item,
    }
}
