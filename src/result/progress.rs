//! Progress display for long waits: an `indicatif` bar when stderr is a terminal, or when it is
//! the pipe to an MPI launcher whose own stderr is a terminal (`mpirun -n 16 app` run by hand:
//! see [`launcher_terminal`](super::launcher_terminal)); plain progress lines (at most one every
//! few seconds) when a bar was asked for but nobody watches a terminal, so that batch logs show
//! progress too. Automatic progress shows nothing before a wait has lasted 200 ms, so loops of
//! short calls draw nothing. `MPIVIEW_PROGRESS` forces it: `1` shows progress where a view's setting is
//! automatic, `0` never shows any.

use std::cell::{Cell, RefCell};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the plain-text form writes a line.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// Whether to show progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ShowProgress {
    /// A bar when someone watches a terminal: stderr is one, or the MPI launcher's stderr is
    /// one (the default). `MPIVIEW_PROGRESS=1` makes it [`Always`](Self::Always).
    #[default]
    Auto,
    /// Always: a bar on a terminal, a line every few seconds otherwise (batch logs).
    Always,
    /// Never (also what every setting becomes with `MPIVIEW_PROGRESS=0`).
    Never,
}

impl ShowProgress {
    /// This setting under `MPIVIEW_PROGRESS` (`forced`: `Some(true)` for `1`, `Some(false)`
    /// for `0`).
    pub(crate) fn under(self, forced: Option<bool>) -> ShowProgress {
        match (forced, self) {
            (Some(false), _) => ShowProgress::Never,
            (Some(true), ShowProgress::Auto) => ShowProgress::Always,
            (_, show) => show,
        }
    }
}

/// Where a bar can be drawn: stderr itself, or the launcher's terminal through stderr's pipe.
fn bar_target() -> Option<ProgressDrawTarget> {
    if std::io::stderr().is_terminal() {
        return Some(ProgressDrawTarget::stderr());
    }
    let tty = super::launcher_terminal::launcher_terminal()?;
    let width = super::launcher_terminal::width_of(&tty);
    // Ten redraws a second: each one crosses the launcher's forwarding.
    Some(ProgressDrawTarget::term_like_with_hz(
        Box::new(super::launcher_terminal::PipedTerminal { width }),
        10,
    ))
}

/// A progress display: done / total, rate and ETA. Automatic progress shows nothing until its
/// wait has lasted [`SHOW_AFTER`]: a loop of short calls draws no bars and pays no drawing.
/// Progress a view asked for ([`ShowProgress::Always`]) shows from the start.
pub(crate) struct Progress {
    show: ShowProgress,
    /// Shown only once the wait has lasted [`SHOW_AFTER`].
    delayed: bool,
    kind: RefCell<Kind>,
    total: Cell<Option<u64>>,
    unit: Cell<&'static str>,
    start: Instant,
    last_line: Cell<Instant>,
    done: Cell<u64>,
}

/// How long a wait goes before its progress shows.
const SHOW_AFTER: Duration = Duration::from_millis(200);

enum Kind {
    /// Not shown yet (the wait is young).
    Waiting,
    Hidden,
    Bar(ProgressBar),
    Lines,
}

impl Progress {
    /// A display of `total` `unit`s (unknown for an endless stream).
    pub(crate) fn new(total: Option<u64>, unit: &'static str, show: ShowProgress) -> Progress {
        let delayed = show == ShowProgress::Auto;
        let show = show.under(crate::settings::get().progress);
        let kind = match show {
            ShowProgress::Never => Kind::Hidden,
            _ => Kind::Waiting,
        };
        let now = Instant::now();
        Progress {
            show,
            delayed,
            kind: RefCell::new(kind),
            total: Cell::new(total),
            unit: Cell::new(unit),
            start: now,
            last_line: Cell::new(now),
            done: Cell::new(0),
        }
    }

    /// What to show, once the wait has lasted [`SHOW_AFTER`].
    fn appear(&self) -> Kind {
        if let Some(target) = bar_target() {
            let bar = ProgressBar::with_draw_target(self.total.get(), target);
            bar.set_style(self.style());
            bar.set_elapsed(self.start.elapsed());
            return Kind::Bar(bar);
        }
        match self.show {
            ShowProgress::Always => Kind::Lines,
            _ => Kind::Hidden,
        }
    }

    /// The bar's look for the current total and unit.
    fn style(&self) -> ProgressStyle {
        let unit = self.unit.get();
        let template = match self.total.get() {
            Some(_) => format!(
                "{{bar:40.cyan/blue}} {{pos}}/{{len}} {unit} {{per_sec}} ETA {{eta}} elapsed {{elapsed_precise}}"
            ),
            None => {
                format!("{{spinner}} {{pos}} {unit} {{per_sec}} elapsed {{elapsed_precise}}")
            }
        };
        ProgressStyle::with_template(&template).expect("valid template")
    }

    /// Counts in another unit from now on, out of `total` (a call whose engines report their
    /// work: engines at first, then the work's units).
    pub(crate) fn retotal(&self, total: u64, unit: &'static str) {
        if self.total.get() == Some(total) && self.unit.get() == unit {
            return;
        }
        self.total.set(Some(total));
        self.unit.set(unit);
        if let Kind::Bar(bar) = &*self.kind.borrow() {
            bar.set_length(total);
            bar.set_style(self.style());
        }
    }

    /// Sets the number done.
    pub(crate) fn set(&self, done: u64) {
        self.done.set(done);
        let mut kind = self.kind.borrow_mut();
        if matches!(*kind, Kind::Waiting) && (!self.delayed || self.start.elapsed() >= SHOW_AFTER) {
            *kind = self.appear();
        }
        match &*kind {
            Kind::Waiting | Kind::Hidden => {}
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
        let _ = match self.total.get() {
            Some(total) => {
                let eta = if rate > 0.0 {
                    format!("{:.1}s", (total.saturating_sub(done)) as f64 / rate)
                } else {
                    "?".into()
                };
                writeln!(
                    err,
                    "progress: {done}/{total} {} ({rate:.1}/s, ETA {eta}, elapsed {secs:.1}s)",
                    self.unit.get()
                )
            }
            None => writeln!(
                err,
                "progress: {done} {} ({rate:.1}/s, elapsed {secs:.1}s)",
                self.unit.get()
            ),
        };
    }

    /// Marks the display done (a display that never showed stays silent).
    pub(crate) fn finish(&self) {
        let mut kind = self.kind.borrow_mut();
        if matches!(*kind, Kind::Waiting) && !self.delayed {
            *kind = self.appear();
            if let Kind::Bar(bar) = &*kind {
                bar.set_position(self.done.get());
            }
        }
        match &*kind {
            Kind::Waiting | Kind::Hidden => {}
            Kind::Bar(bar) => bar.finish(),
            Kind::Lines => self.line(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ShowProgress::{Always, Auto, Never};

    #[test]
    fn the_variable_forces_automatic_views_and_silences_all() {
        assert_eq!(Auto.under(None), Auto);
        assert_eq!(Auto.under(Some(true)), Always);
        assert_eq!(
            Never.under(Some(true)),
            Never,
            "a view that asked for none keeps none"
        );
        for show in [Auto, Always, Never] {
            assert_eq!(show.under(Some(false)), Never);
        }
    }
}
