//! What a driver returns, and the exit status every rank then exits with.

use std::any::Any;
use std::fmt::Display;

use crate::error::Error;

/// The end of a driver: exit code and, on failure, a message for rank 0's stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Exit code of every rank.
    pub code: u8,
    /// What to print on stderr (rank 0 only).
    pub message: Option<String>,
}

impl Outcome {
    /// Success.
    pub fn success() -> Outcome {
        Outcome {
            code: 0,
            message: None,
        }
    }

    /// A failure with `code` and `message`.
    pub fn failure(code: u8, message: impl Into<String>) -> Outcome {
        Outcome {
            code: code.max(1),
            message: Some(message.into()),
        }
    }
}

/// Types a driver may return: `()`, `Result<(), E>` for any displayable error (exit code 2 for
/// [`Error::Usage`], 1 otherwise), or an [`Outcome`].
pub trait DriverExit {
    /// The exit status this value stands for.
    fn into_outcome(self) -> Outcome;
}

impl DriverExit for () {
    fn into_outcome(self) -> Outcome {
        Outcome::success()
    }
}

impl DriverExit for Outcome {
    fn into_outcome(self) -> Outcome {
        self
    }
}

impl<E: Display + 'static> DriverExit for Result<(), E> {
    fn into_outcome(self) -> Outcome {
        match self {
            Ok(()) => Outcome::success(),
            Err(e) => Outcome::failure(exit_code_of(&e), e.to_string()),
        }
    }
}

/// The exit code for an error value: mpiview's own errors (also boxed) choose theirs.
fn exit_code_of(e: &dyn Any) -> u8 {
    if let Some(e) = e.downcast_ref::<Error>() {
        return e.exit_code();
    }
    if let Some(b) = e.downcast_ref::<Box<dyn std::error::Error + Send + Sync>>()
        && let Some(e) = b.downcast_ref::<Error>()
    {
        return e.exit_code();
    }
    if let Some(b) = e.downcast_ref::<Box<dyn std::error::Error>>()
        && let Some(e) = b.downcast_ref::<Error>()
    {
        return e.exit_code();
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_of_driver_values() {
        assert_eq!(().into_outcome(), Outcome::success());
        assert_eq!(Ok::<(), String>(()).into_outcome(), Outcome::success());
        let o = Err::<(), _>(Error::usage("--n must be positive")).into_outcome();
        assert_eq!(o, Outcome::failure(2, "--n must be positive"));
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Error::usage("bad"));
        assert_eq!(Err::<(), _>(boxed).into_outcome().code, 2);
        let plain: Box<dyn std::error::Error> = "oops".into();
        assert_eq!(Err::<(), _>(plain).into_outcome().code, 1);
        assert_eq!(Err::<(), _>("text").into_outcome().code, 1);
        assert_eq!(Outcome::failure(0, "x").code, 1, "a failure never exits 0");
    }
}
