//! Every `MPIVIEW_*` setting, read in one place, strictly.
//!
//! [`Cluster::init`](crate::Cluster::init) reads them on every rank, but only the controller's
//! reading counts: a bad value ends the run before any work, with exit code 2 on every rank and
//! one message naming the variable; the settings that every rank must agree on (how waits poll,
//! doorbells, the piece size of large transfers, the engines' buffer pool) are sent from the
//! controller to the engines at start-up, so ranks whose environments differ cannot disagree.
//! Numbers are written as the apps accept them (`1e6`, `1_000`); sizes with units (`50MB`,
//! `2GiB`, `5e7`).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `MPIVIEW_SPIN_US` | 50 | waits spin (or yield) this long before they sleep |
//! | `MPIVIEW_MIN_SLEEP_CAP_US` | 200 | longest sleep early in a wait |
//! | `MPIVIEW_MAX_SLEEP_US` | 2000 | longest single sleep of a long wait |
//! | `MPIVIEW_YIELD` | `auto` | `1`/`0`: yield the core while spinning (`auto`: when a node holds more ranks than CPUs) |
//! | `MPIVIEW_DOORBELL` | `1` | `0`: no `SIGURG` wake-ups between ranks of a node |
//! | `MPIVIEW_TRANSFER_WAIT` | `spin` | `sleep`: waits for data in flight sleep like the others (to compare) |
//! | `MPIVIEW_SHUTDOWN_GRACE_S` | 3 | seconds engines get to stop after a failed driver |
//! | `MPIVIEW_MEMORY_LIMIT` | none | the most a gathered result (or an app's output) may take on the controller |
//! | `MPIVIEW_BUFFER_POOL_MB` | 1024 | MB of receive buffers each engine keeps for reuse (0: none) |
//! | `MPIVIEW_NODES` | none | pretend nodes: `k` (block rule) or one node number per engine |
//! | `MPIVIEW_MAX_MESSAGE_ELEMENTS` | 2^31−1 | testing: the most elements one MPI call carries |
//! | `MPIVIEW_PREFETCH` | 2 | load-balanced chunks queued per engine |
//! | `MPIVIEW_BROADCAST_MIN` | 32 | requests to views of at least this many engines are broadcast; smaller views get one message per engine |
//! | `MPIVIEW_CHUNK_TARGET_MS` | 2 | engine time automatic chunks aim at |
//! | `MPIVIEW_BATCH_TARGET_US` | 100 | engine time a message of several load-balanced chunks aims at |
//! | `MPIVIEW_BATCH_MAX` | 64 | the most load-balanced chunks one message carries (1: one chunk per message) |
//! | `MPIVIEW_PROGRESS` | `auto` | `1`: show progress where a view's setting is automatic, also in batch logs; `0`: never (`auto`: a bar when someone watches a terminal, through `mpirun` too) |

use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::balance::BatchRule;
use crate::units::{parse_count, parse_seconds, parse_size};

/// A setting with a bad value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?}: {why}")]
pub struct SettingError {
    /// The variable.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong with it.
    pub why: String,
}

/// How waits poll; the controller decides it for every rank.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Polling {
    pub spin: Duration,
    pub min_sleep_cap: Duration,
    pub max_sleep: Duration,
    /// `None`: yield while spinning when the node is oversubscribed.
    pub yield_when_spinning: Option<bool>,
}

/// The settings every rank must share; sent by the controller at start-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Shared {
    pub polling: Polling,
    pub doorbell: bool,
    pub transfer_spin: bool,
    pub max_message_elements: u64,
    pub buffer_pool_bytes: u64,
}

/// Every setting.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Settings {
    pub shared: Shared,
    pub shutdown_grace: Duration,
    pub memory_limit: Option<u64>,
    pub nodes: Option<String>,
    pub prefetch: usize,
    pub chunk_target: Duration,
    /// How many load-balanced chunks one message carries.
    pub batch: BatchRule,
    /// Requests to views of at least this many engines go as one broadcast.
    pub broadcast_min: usize,
    /// `MPIVIEW_PROGRESS`: `Some(true)` always, `Some(false)` never, `None` automatic.
    pub progress: Option<bool>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            shared: Shared {
                polling: Polling {
                    spin: Duration::from_micros(50),
                    min_sleep_cap: Duration::from_micros(200),
                    max_sleep: Duration::from_micros(2000),
                    yield_when_spinning: None,
                },
                doorbell: true,
                transfer_spin: true,
                max_message_elements: i32::MAX as u64,
                buffer_pool_bytes: 1024 << 20,
            },
            shutdown_grace: Duration::from_secs(3),
            memory_limit: None,
            nodes: None,
            prefetch: 2,
            chunk_target: Duration::from_millis(2),
            batch: BatchRule {
                target: 100e-6,
                max: 64,
            },
            broadcast_min: 32,
            progress: None,
        }
    }
}

impl Settings {
    /// Reads every setting from `var` (the environment, in real use); the first bad one is an
    /// error.
    pub(crate) fn read(var: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingError> {
        let mut s = Settings::default();
        let get = |name: &'static str| var(name).map(|v| (name, v));
        let bad = |variable: &'static str, value: &str, why: String| SettingError {
            variable,
            value: value.to_string(),
            why,
        };
        let micros = |(name, v): (&'static str, String)| -> Result<Duration, SettingError> {
            let us = parse_count(&v).map_err(|e| bad(name, &v, e))?;
            if us > 60_000_000 {
                return Err(bad(name, &v, "more than 60 s".into()));
            }
            Ok(Duration::from_micros(us))
        };
        let switch = |(name, v): (&'static str, String)| -> Result<bool, SettingError> {
            match v.trim() {
                "1" | "on" | "true" | "yes" => Ok(true),
                "0" | "off" | "false" | "no" => Ok(false),
                _ => Err(bad(name, &v, "write 1 or 0".into())),
            }
        };
        let p = &mut s.shared.polling;
        if let Some(x) = get("MPIVIEW_SPIN_US") {
            p.spin = micros(x)?;
        }
        if let Some(x) = get("MPIVIEW_MAX_SLEEP_US") {
            p.max_sleep = micros(x)?;
        }
        if let Some(x) = get("MPIVIEW_MIN_SLEEP_CAP_US") {
            p.min_sleep_cap = micros(x)?;
        }
        p.min_sleep_cap = p.min_sleep_cap.min(p.max_sleep);
        if let Some((name, v)) = get("MPIVIEW_YIELD") {
            p.yield_when_spinning = match v.trim() {
                "auto" => None,
                _ => Some(switch((name, v))?),
            };
        }
        if let Some((name, v)) = get("MPIVIEW_PROGRESS") {
            s.progress = match v.trim() {
                "auto" => None,
                "always" => Some(true),
                "never" => Some(false),
                _ => Some(switch((name, v)).map_err(|mut e| {
                    e.why = "write 1, 0 or auto".into();
                    e
                })?),
            };
        }
        if let Some(x) = get("MPIVIEW_DOORBELL") {
            s.shared.doorbell = switch(x)?;
        }
        if let Some((name, v)) = get("MPIVIEW_TRANSFER_WAIT") {
            s.shared.transfer_spin = match v.trim() {
                "spin" => true,
                "sleep" => false,
                _ => return Err(bad(name, &v, "write spin or sleep".into())),
            };
        }
        if let Some((name, v)) = get("MPIVIEW_SHUTDOWN_GRACE_S") {
            s.shutdown_grace = parse_seconds(&v).map_err(|e| bad(name, &v, e))?;
        }
        if let Some((name, v)) = get("MPIVIEW_MEMORY_LIMIT") {
            s.memory_limit = Some(parse_size(&v).map_err(|e| bad(name, &v, e))?);
        }
        if let Some((name, v)) = get("MPIVIEW_BUFFER_POOL_MB") {
            let mb = parse_count(&v).map_err(|e| bad(name, &v, e))?;
            s.shared.buffer_pool_bytes = mb
                .checked_mul(1 << 20)
                .ok_or_else(|| bad(name, &v, "too large".into()))?;
        }
        if let Some((_, v)) = get("MPIVIEW_NODES") {
            s.nodes = Some(v);
        }
        if let Some((name, v)) = get("MPIVIEW_MAX_MESSAGE_ELEMENTS") {
            let n = parse_count(&v).map_err(|e| bad(name, &v, e))?;
            if n == 0 {
                return Err(bad(name, &v, "must be at least 1".into()));
            }
            s.shared.max_message_elements = n.min(i32::MAX as u64);
        }
        if let Some((name, v)) = get("MPIVIEW_PREFETCH") {
            let n = parse_count(&v).map_err(|e| bad(name, &v, e))?;
            if !(1..=1024).contains(&n) {
                return Err(bad(name, &v, "must be from 1 to 1024".into()));
            }
            s.prefetch = n as usize;
        }
        if let Some((name, v)) = get("MPIVIEW_BROADCAST_MIN") {
            let n = parse_count(&v).map_err(|e| bad(name, &v, e))?;
            if n < 2 {
                return Err(bad(name, &v, "must be at least 2".into()));
            }
            s.broadcast_min = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some((name, v)) = get("MPIVIEW_CHUNK_TARGET_MS") {
            let ms = parse_seconds(&v).map_err(|e| bad(name, &v, e))?;
            if ms.is_zero() {
                return Err(bad(name, &v, "must be more than 0".into()));
            }
            // parse_seconds read the number; it is in milliseconds here.
            s.chunk_target = ms / 1000;
        }
        if let Some(x) = get("MPIVIEW_BATCH_TARGET_US") {
            s.batch.target = micros(x)?.as_secs_f64();
        }
        if let Some((name, v)) = get("MPIVIEW_BATCH_MAX") {
            let n = parse_count(&v).map_err(|e| bad(name, &v, e))?;
            if !(1..=4096).contains(&n) {
                return Err(bad(name, &v, "must be from 1 to 4096".into()));
            }
            s.batch.max = n as usize;
        }
        Ok(s)
    }
}

static SETTINGS: OnceLock<(Settings, Option<SettingError>)> = OnceLock::new();

/// Reads the environment once (at [`Cluster::init`](crate::Cluster::init), or on first use).
fn loaded() -> &'static (Settings, Option<SettingError>) {
    SETTINGS.get_or_init(|| match Settings::read(|name| std::env::var(name).ok()) {
        Ok(s) => (s, None),
        Err(e) => (Settings::default(), Some(e)),
    })
}

/// This process's settings (the defaults where the environment had a bad value: see
/// [`error`]).
pub(crate) fn get() -> &'static Settings {
    &loaded().0
}

/// The first bad setting in this process's environment, if any.
pub(crate) fn error() -> Option<&'static SettingError> {
    loaded().1.as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Settings, SettingError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::read(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_without_variables() {
        assert_eq!(read(&[]).unwrap(), Settings::default());
    }

    #[test]
    fn values_as_the_apps_write_them() {
        let s = read(&[
            ("MPIVIEW_MEMORY_LIMIT", "50MB"),
            ("MPIVIEW_SHUTDOWN_GRACE_S", "0.5"),
            ("MPIVIEW_SPIN_US", "1e2"),
            ("MPIVIEW_YIELD", "auto"),
            ("MPIVIEW_DOORBELL", "0"),
            ("MPIVIEW_CHUNK_TARGET_MS", "5"),
            ("MPIVIEW_MAX_MESSAGE_ELEMENTS", "1_000"),
            ("MPIVIEW_BATCH_TARGET_US", "250"),
            ("MPIVIEW_BATCH_MAX", "1"),
        ])
        .unwrap();
        assert_eq!(
            s.batch,
            BatchRule {
                target: 250e-6,
                max: 1
            }
        );
        assert_eq!(s.memory_limit, Some(50_000_000));
        assert_eq!(s.shutdown_grace, Duration::from_millis(500));
        assert_eq!(s.shared.polling.spin, Duration::from_micros(100));
        assert!(!s.shared.doorbell);
        assert_eq!(s.chunk_target, Duration::from_millis(5));
        assert_eq!(s.shared.max_message_elements, 1000);
        assert_eq!(
            read(&[("MPIVIEW_MEMORY_LIMIT", "5e7")])
                .unwrap()
                .memory_limit,
            Some(50_000_000)
        );
    }

    #[test]
    fn progress_is_forced_on_off_or_left_automatic() {
        let progress = |v: &str| read(&[("MPIVIEW_PROGRESS", v)]).unwrap().progress;
        assert_eq!(progress("auto"), None);
        assert_eq!(
            (progress("1"), progress("always")),
            (Some(true), Some(true))
        );
        assert_eq!(
            (progress("0"), progress("never")),
            (Some(false), Some(false))
        );
        let e = read(&[("MPIVIEW_PROGRESS", "sometimes")]).unwrap_err();
        assert!(e.to_string().contains("write 1, 0 or auto"), "{e}");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("MPIVIEW_SHUTDOWN_GRACE_S", "-1"),
            ("MPIVIEW_SHUTDOWN_GRACE_S", "inf"),
            ("MPIVIEW_MEMORY_LIMIT", "50 parsecs"),
            ("MPIVIEW_SPIN_US", "fast"),
            ("MPIVIEW_YIELD", "maybe"),
            ("MPIVIEW_DOORBELL", "2"),
            ("MPIVIEW_TRANSFER_WAIT", "hop"),
            ("MPIVIEW_MAX_MESSAGE_ELEMENTS", "0"),
            ("MPIVIEW_PREFETCH", "0"),
            ("MPIVIEW_CHUNK_TARGET_MS", "0"),
            ("MPIVIEW_BATCH_MAX", "0"),
            ("MPIVIEW_BATCH_TARGET_US", "soon"),
            ("MPIVIEW_BUFFER_POOL_MB", "1e30"),
            ("MPIVIEW_PROGRESS", "sometimes"),
        ] {
            let e = read(&[(name, value)]).unwrap_err();
            assert_eq!(e.variable, name);
            assert!(e.to_string().starts_with(&format!("{name}=")), "{e}");
        }
    }
}
