//! Progress display for long waits: an `indicatif` bar when stderr is a terminal; plain
//! progress lines (at most one every few seconds) when a bar was asked for but stderr is a file
//! or pipe, so that batch logs show progress too.

use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the plain-text form writes a line.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// A progress display: done / total, rate and ETA.
pub(crate) struct Progress {
    kind: Kind,
    total: u64,
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
    /// A display of `total` `unit`s; `force` shows it even when stderr is not a terminal.
    pub(crate) fn new(total: u64, unit: &'static str, force: bool) -> Progress {
        let kind = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let template = format!(
                "{{bar:40.cyan/blue}} {{pos}}/{{len}} {unit} {{per_sec}} ETA {{eta}} elapsed {{elapsed_precise}}"
            );
            bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
            Kind::Bar(bar)
        } else if force {
            Kind::Lines
        } else {
            Kind::Hidden
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
        let eta = if rate > 0.0 {
            format!("{:.1}s", (self.total.saturating_sub(done)) as f64 / rate)
        } else {
            "?".into()
        };
        let _ = writeln!(
            std::io::stderr(),
            "progress: {done}/{} {} ({rate:.1}/s, ETA {eta}, elapsed {secs:.1}s)",
            self.total,
            self.unit
        );
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
