//! Progress display for long waits: an `indicatif` bar when stderr is a terminal; plain
//! progress lines (at most one every few seconds) when a bar was asked for but stderr is a file
//! or pipe, so that batch logs show progress too.

use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the plain-text form writes a line.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// Whether to show progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ShowProgress {
    /// A bar when stderr is a terminal (the default).
    #[default]
    Auto,
    /// Always: a bar on a terminal, a line every few seconds otherwise (batch logs).
    Always,
    /// Never.
    Never,
}

/// A progress display: done / total, rate and ETA.
pub(crate) struct Progress {
    kind: Kind,
    total: Option<u64>,
    unit: &'static str,
    start: Instant,
    last_line: Cell<Instant>,
    done: Cell<u64>,
}

enum Kind {
    Hidden,
    Bar(ProgressBar),
    Lines,
}

impl Progress {
    /// A display of `total` `unit`s (unknown for an endless stream).
    pub(crate) fn new(total: Option<u64>, unit: &'static str, show: ShowProgress) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let kind = match show {
            ShowProgress::Never => Kind::Hidden,
            _ if terminal => {
                let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
                let template = match total {
                    Some(_) => format!(
                        "{{bar:40.cyan/blue}} {{pos}}/{{len}} {unit} {{per_sec}} ETA {{eta}} elapsed {{elapsed_precise}}"
                    ),
                    None => format!(
                        "{{spinner}} {{pos}} {unit} {{per_sec}} elapsed {{elapsed_precise}}"
                    ),
                };
                bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
                Kind::Bar(bar)
            }
            ShowProgress::Always => Kind::Lines,
            ShowProgress::Auto => Kind::Hidden,
        };
        let now = Instant::now();
        Progress {
            kind,
            total,
            unit,
            start: now,
            last_line: Cell::new(now),
            done: Cell::new(0),
        }
    }

    /// Sets the number done.
    pub(crate) fn set(&self, done: u64) {
        self.done.set(done);
        match &self.kind {
            Kind::Hidden => {}
            Kind::Bar(bar) => bar.set_position(done),
            Kind::Lines => {
                if self.last_line.get().elapsed() >= LINE_EVERY {
                    self.last_line.set(Instant::now());
                    self.line();
                }
            }
        }
    }

    fn line(&self) {
        let done = self.done.get();
        let secs = self.start.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let mut err = std::io::stderr();
        let _ = match self.total {
            Some(total) => {
                let eta = if rate > 0.0 {
                    format!("{:.1}s", (total.saturating_sub(done)) as f64 / rate)
                } else {
                    "?".into()
                };
                writeln!(
                    err,
                    "progress: {done}/{total} {} ({rate:.1}/s, ETA {eta}, elapsed {secs:.1}s)",
                    self.unit
                )
            }
            None => writeln!(
                err,
                "progress: {done} {} ({rate:.1}/s, elapsed {secs:.1}s)",
                self.unit
            ),
        };
    }

    /// Marks the display done.
    pub(crate) fn finish(&self) {
        match &self.kind {
            Kind::Hidden => {}
            Kind::Bar(bar) => bar.finish(),
            Kind::Lines => self.line(),
        }
    }
}
