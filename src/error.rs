//! One error type for everything the controller can see go wrong.
//!
//! Remote failures carry the engine that failed and the function it was running; when several
//! engines fail in one request, all of their errors come back together in
//! [`Error::Remote`], in target order.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::targets::EngineId;

/// `Result` with mpiview's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error type of every fallible mpiview call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A target selection that names no engine, an engine out of range, or a repeated one.
    #[error("bad targets: {0}")]
    Targets(#[from] TargetsError),
    /// One or more engines failed; every failure of the request is listed, in target order.
    #[error("{0}")]
    Remote(RemoteErrors),
    /// A `get`/`wait` that ran out of time; the work goes on and can be waited for again.
    #[error("timed out after {0:.3?} waiting for results")]
    Timeout(Duration),
    /// Input that the caller must fix (bad arguments, impossible sizes); apps exit with code 2.
    #[error("{0}")]
    Usage(String),
    /// A result that would not fit in the controller's memory (`what` needs `needed` bytes,
    /// `available` are available, `MPIVIEW_MEMORY_LIMIT` included).
    #[error("{what} needs {:.2} GB but the controller has {:.2} GB of memory available", *needed as f64 / 1e9, *available as f64 / 1e9)]
    OutOfMemory {
        /// What was asked for (``gather of `x` ``).
        what: String,
        /// Bytes it needs.
        needed: u128,
        /// Bytes available.
        available: u128,
    },
    /// A request that cannot be carried out as asked (arrays of mismatched shape, a 0-d array
    /// to scatter, a message too large to encode).
    #[error("{0}")]
    Invalid(String),
    /// Tasks that were aborted before they started.
    #[error("aborted: {0}")]
    Aborted(String),
    /// The runtime itself failed (MPI refused to start, a rank could not be reached).
    #[error("runtime: {0}")]
    Runtime(String),
    /// A value that could not be encoded or decoded (types of the two sides disagree).
    #[error("serialization: {0}")]
    Serialization(String),
    /// Reading or writing a file.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A name missing from an engine's namespace, or holding another type (inside a remote
    /// function that returns [`Result`]: `ctx.get::<f64>("x")?`). It comes back to the driver
    /// with its kind, [`RemoteErrorKind::MissingName`] or [`RemoteErrorKind::WrongType`].
    #[error("{0}")]
    Namespace(#[from] crate::namespace::NamespaceError),
}

impl Error {
    /// The process exit code this error maps to when a driver returns it: 2 for
    /// [`Error::Usage`], 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }

    /// The remote failures this error carries (empty for local errors).
    pub fn remote_errors(&self) -> &[RemoteError] {
        match self {
            Error::Remote(r) => &r.0,
            _ => &[],
        }
    }

    /// A usage error: bad input the caller must fix (exit code 2).
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(message.into())
    }
}

impl From<postcard::Error> for Error {
    fn from(e: postcard::Error) -> Self {
        Error::Serialization(e.to_string())
    }
}

/// Why a target selection is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetsError {
    /// An engine index (negative counts from the end) outside `0..engines`.
    #[error("engine index {index} is out of range: there are {engines} engines")]
    OutOfRange {
        /// The index given.
        index: isize,
        /// Engines there are.
        engines: usize,
    },
    /// The same engine listed twice.
    #[error("engine {engine} is listed twice")]
    Repeated {
        /// The engine.
        engine: EngineId,
    },
    /// A selection that names no engine.
    #[error("the selection names no engine (there are {engines})")]
    Empty {
        /// Engines there are.
        engines: usize,
    },
    /// A slice with step 0.
    #[error("a slice step cannot be zero")]
    ZeroStep,
    /// A node index outside the nodes there are.
    #[error("node {node} is out of range: there are {nodes} nodes")]
    NoSuchNode {
        /// The node index given.
        node: usize,
        /// Nodes there are.
        nodes: usize,
    },
}

/// What kind of failure an engine reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RemoteErrorKind {
    /// The function returned an error.
    Failed,
    /// The function panicked; the engine caught the panic and keeps serving.
    Panicked,
    /// A name that is not in the engine's namespace.
    MissingName,
    /// A name whose value has another type than the one asked for.
    WrongType,
    /// Arguments or results could not be decoded (the two sides disagree on types).
    BadPayload,
    /// The task was aborted before it started.
    Aborted,
}

/// The view call a remote failure came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Call {
    /// `apply` on a direct view, or on a load-balanced view (one task).
    Apply,
    /// `execute` of a registered task.
    Execute,
    /// `map` (direct or load-balanced), `imap`, `map_unordered`.
    Map,
    /// `push` of values.
    Push,
    /// `pull` of values.
    Pull,
    /// `scatter` of an array.
    Scatter,
    /// `gather` of an array.
    Gather,
    /// `clear` of names.
    Clear,
    /// Making a view's communicators on its first use.
    View,
}

impl Call {
    /// The call's name as the views spell it (`apply`, `pull`, …).
    pub fn name(self) -> &'static str {
        match self {
            Call::Apply => "apply",
            Call::Execute => "execute",
            Call::Map => "map",
            Call::Push => "push",
            Call::Pull => "pull",
            Call::Scatter => "scatter",
            Call::Gather => "gather",
            Call::Clear => "clear",
            Call::View => "view creation",
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failure on one engine: which engine, in which call and function, and what it said.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RemoteError {
    /// The engine that failed.
    pub engine: EngineId,
    /// The view call that failed (`apply`, `map`, `pull`, …).
    pub call: Call,
    /// The registered function or task that failed; for calls that run none (`push`, `pull`,
    /// …), the operation's own name.
    pub function: String,
    /// What kind of failure it was.
    pub kind: RemoteErrorKind,
    /// The error's or panic's message.
    pub message: String,
    /// For load-balanced maps: the index of the input item that failed.
    pub item: Option<u64>,
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "engine {}: {}", self.engine, self.call)?;
        if self.function != self.call.name() {
            write!(f, " of `{}`", self.function)?;
        }
        if let Some(item) = self.item {
            write!(f, " on item {item}")?;
        }
        let what = match self.kind {
            RemoteErrorKind::Failed => "failed",
            RemoteErrorKind::Panicked => "panicked",
            RemoteErrorKind::MissingName => "missing name",
            RemoteErrorKind::WrongType => "wrong type",
            RemoteErrorKind::BadPayload => "bad payload",
            RemoteErrorKind::Aborted => "aborted",
        };
        write!(f, " {what}: {}", self.message)
    }
}

impl std::error::Error for RemoteError {}

/// All remote failures of one request (never empty), in target (or item) order.
///
/// Its message lists the first [`SHOWN_FAILURES`](RemoteErrors::SHOWN_FAILURES) and counts the
/// rest, so that a request that failed on a thousand engines fits on a screen; every failure
/// stays in the list.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RemoteErrors(pub Vec<RemoteError>);

impl RemoteErrors {
    /// How many failures the message lists before it counts the others.
    pub const SHOWN_FAILURES: usize = 4;
}

impl fmt::Display for RemoteErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} remote failures:", many.len())?;
                for e in many.iter().take(Self::SHOWN_FAILURES) {
                    write!(f, "\n  {e}")?;
                }
                let more = many.len().saturating_sub(Self::SHOWN_FAILURES);
                if more > 0 {
                    let s = if more == 1 { "" } else { "s" };
                    write!(f, "\n  … {more} more failure{s} …")?;
                }
                Ok(())
            }
        }
    }
}

impl From<RemoteError> for Error {
    fn from(e: RemoteError) -> Self {
        Error::Remote(RemoteErrors(vec![e]))
    }
}

impl From<Vec<RemoteError>> for Error {
    fn from(e: Vec<RemoteError>) -> Self {
        Error::Remote(RemoteErrors(e))
    }
}

/// The error type remote functions return: anything that converts into a boxed error, so `?`
/// works on most error types inside a registered function.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(engine: EngineId, kind: RemoteErrorKind) -> RemoteError {
        RemoteError {
            engine,
            call: Call::Apply,
            function: "add".into(),
            kind,
            message: "boom".into(),
            item: None,
        }
    }

    #[test]
    fn messages_name_engine_and_function() {
        let e = Error::from(remote(2, RemoteErrorKind::Panicked));
        assert_eq!(e.to_string(), "engine 2: apply of `add` panicked: boom");
        let mut item = remote(1, RemoteErrorKind::Failed);
        item.item = Some(7);
        item.call = Call::Map;
        assert_eq!(
            item.to_string(),
            "engine 1: map of `add` on item 7 failed: boom"
        );
        let mut pull = remote(0, RemoteErrorKind::MissingName);
        pull.call = Call::Pull;
        pull.function = "pull".into();
        assert_eq!(pull.to_string(), "engine 0: pull missing name: boom");
    }

    #[test]
    fn several_failures_are_all_listed() {
        let e = Error::from(vec![
            remote(0, RemoteErrorKind::Failed),
            remote(3, RemoteErrorKind::MissingName),
        ]);
        let s = e.to_string();
        assert!(s.starts_with("2 remote failures:"), "{s}");
        assert!(s.contains("engine 0: apply of `add` failed: boom"));
        assert!(s.contains("engine 3: apply of `add` missing name: boom"));
        assert_eq!(e.remote_errors().len(), 2);
        assert_eq!(e.exit_code(), 1);
        assert_eq!(Error::usage("bad n").exit_code(), 2);
    }

    #[test]
    fn many_failures_show_the_first_four_and_count_the_rest() {
        let lines = |n: usize| {
            let e = Error::from(
                (0..n)
                    .map(|i| remote(i, RemoteErrorKind::Failed))
                    .collect::<Vec<_>>(),
            );
            assert_eq!(
                e.remote_errors().len(),
                n,
                "every failure stays in the list"
            );
            e.to_string()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let four = lines(4);
        assert_eq!(four.len(), 5, "{four:?}");
        assert!(four[4].contains("engine 3:"));
        let five = lines(5);
        assert_eq!(five.len(), 6, "{five:?}");
        assert_eq!(five[5], "  … 1 more failure …");
        let thousand = lines(1000);
        assert_eq!(thousand.len(), 6);
        assert_eq!(thousand[0], "1000 remote failures:");
        assert!(thousand[4].starts_with("  engine 3: apply of `add`"));
        assert_eq!(thousand[5], "  … 996 more failures …");
    }
}
