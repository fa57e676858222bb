//! Per-engine timings of a request.

use std::time::{Duration, SystemTime};

use crate::targets::EngineId;

/// When one engine ran its part of a request (engine clocks; they agree across nodes as well
/// as NTP keeps them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EngineTiming {
    /// The engine.
    pub engine: EngineId,
    /// When the engine started the work.
    pub started: SystemTime,
    /// When it finished.
    pub completed: SystemTime,
    /// When the controller received the reply.
    pub received: SystemTime,
}

impl EngineTiming {
    /// `completed - started`.
    pub fn duration(&self) -> Duration {
        self.completed
            .duration_since(self.started)
            .unwrap_or_default()
    }
}

/// IPython Parallel's `wall_time`: last completion minus submission.
pub(crate) fn wall_time(submitted: SystemTime, timings: &[EngineTiming]) -> Option<Duration> {
    let last = timings.iter().map(|t| t.completed).max()?;
    Some(last.duration_since(submitted).unwrap_or_default())
}

/// IPython Parallel's `serial_time`: the sum of the engines' compute times.
pub(crate) fn serial_time(timings: &[EngineTiming]) -> Duration {
    timings.iter().map(EngineTiming::duration).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_and_serial_times() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let s = |a: u64, b: u64| EngineTiming {
            engine: 0,
            started: t0 + Duration::from_millis(a),
            completed: t0 + Duration::from_millis(b),
            received: t0 + Duration::from_millis(b + 1),
        };
        let ts = [s(1, 11), s(2, 32)];
        assert_eq!(wall_time(t0, &ts), Some(Duration::from_millis(32)));
        assert_eq!(serial_time(&ts), Duration::from_millis(40));
        assert_eq!(wall_time(t0, &[]), None);
    }
}
