//! Command-line helpers for mpiview programs: numbers written the way scientists write them,
//! and argument parsing that speaks from rank 0 only.
//!
//! Every rank of an MPI job parses the same command line, so every rank reaches the same
//! verdict; printing it from every rank would repeat each message N times. [`parse_args`] lets
//! the controller report (help, version, or the error) and the driver end the job with the right
//! exit status on every rank: 0 for help, 2 for bad input, [`EXIT_NOT_FINITE`] (3) for a
//! result that is not a finite number ([`AppError::NotFinite`]), 1 for other failures (an
//! output that could not be written: [`AppError::Output`]).

use std::ffi::OsString;

use mpiview::Error;

pub use mpiview::units::parse_count;

/// Exit code of a run whose result is not a finite number (an integrand that is infinite or
/// NaN somewhere, a sum that overflows): distinct from bad input (2) and other failures (1).
pub const EXIT_NOT_FINITE: u8 = 3;

/// Why an app's driver failed: an mpiview error (exit code 2 for [`Error::Usage`], 1
/// otherwise), a result that is not a finite number (exit code [`EXIT_NOT_FINITE`]), or an output
/// that could not be written (exit code 1).
///
/// ```
/// use mpiview_apps::cli::{AppError, EXIT_NOT_FINITE};
/// assert_eq!(AppError::NotFinite("f(0) = inf".into()).exit_code(), EXIT_NOT_FINITE);
/// assert_eq!(AppError::from(mpiview::Error::usage("bad --n")).exit_code(), 2);
/// // Output errors stay structured: callers can match on what went wrong.
/// let e = AppError::from(mpiview_apps::io::OutputError::EmptyPath);
/// assert!(matches!(e, AppError::Output(mpiview_apps::io::OutputError::EmptyPath)));
/// assert_eq!(e.exit_code(), 1);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// An error of the runtime or of the input.
    #[error(transparent)]
    Run(#[from] Error),
    /// The result is not a finite number; the message says where it stops being one.
    #[error("{0}")]
    NotFinite(String),
    /// Writing an output file failed after the work (a full disk, a rename refused). Paths
    /// found wrong by the checks before the work are usage errors ([`Error::Usage`]) instead.
    #[error(transparent)]
    Output(#[from] crate::io::OutputError),
}

impl AppError {
    /// The exit code of every rank.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Run(e) => e.exit_code(),
            AppError::NotFinite(_) => EXIT_NOT_FINITE,
            AppError::Output(_) => 1,
        }
    }
}

/// Parses a positive count (at least 1); a negative number is refused as such.
///
/// ```
/// use mpiview_apps::cli::parse_positive_count;
/// assert_eq!(parse_positive_count("1e3"), Ok(1000));
/// assert!(parse_positive_count("-5").unwrap_err().contains("counts are positive"));
/// ```
pub fn parse_positive_count(s: &str) -> Result<u64, String> {
    if s.trim_start().starts_with('-') {
        return Err(format!(
            "`{s}` is negative: counts are positive (at least 1)"
        ));
    }
    match parse_count(s)? {
        0 => Err("must be at least 1".into()),
        n => Ok(n),
    }
}

/// Parses `--progress`: `auto` (a bar when the launcher's output is a terminal, after 200 ms),
/// `always` (also `on`; a bar on a terminal, a line every few seconds in a log) or `never`
/// (also `off`). `MPIVIEW_PROGRESS=0` silences every setting.
///
/// ```
/// use mpiview::ShowProgress;
/// use mpiview_apps::cli::parse_progress;
/// assert_eq!(parse_progress("on"), Ok(ShowProgress::Always));
/// assert_eq!(parse_progress("never"), Ok(ShowProgress::Never));
/// assert!(parse_progress("sometimes").unwrap_err().contains("auto, always or never"));
/// ```
pub fn parse_progress(s: &str) -> Result<mpiview::ShowProgress, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(mpiview::ShowProgress::Auto),
        "always" | "on" | "yes" | "1" => Ok(mpiview::ShowProgress::Always),
        "never" | "off" | "no" | "0" => Ok(mpiview::ShowProgress::Never),
        _ => Err(format!("`{s}`: progress is auto, always or never")),
    }
}

/// Parses a seed: a whole number from 0 up; a negative number is refused as such.
///
/// ```
/// use mpiview_apps::cli::parse_seed;
/// assert_eq!(parse_seed("0"), Ok(0));
/// assert!(parse_seed("-1").unwrap_err().contains("seeds are whole numbers from 0"));
/// ```
pub fn parse_seed(s: &str) -> Result<u64, String> {
    if s.trim_start().starts_with('-') {
        return Err(format!(
            "`{s}` is negative: seeds are whole numbers from 0 up"
        ));
    }
    parse_count(s)
}

/// Parses a real number: `0.5`, `1e-3`, `1_000.5`, or `pi`, `-pi`, `2pi`, `pi/2` (common bounds).
///
/// ```
/// use mpiview_apps::cli::parse_real;
/// assert_eq!(parse_real("1_000.5"), Ok(1000.5));
/// assert_eq!(parse_real("pi/2"), Ok(std::f64::consts::FRAC_PI_2));
/// assert_eq!(parse_real("-2pi"), Ok(-std::f64::consts::TAU));
/// assert!(parse_real("inf").is_err());
/// ```
pub fn parse_real(s: &str) -> Result<f64, String> {
    let t = s.trim().replace('_', "").to_ascii_lowercase();
    let value = if let Some((coef, div)) = t.split_once("pi") {
        let sign_and_coef = match coef {
            "" | "+" => 1.0,
            "-" => -1.0,
            c => c
                .trim_end_matches('*')
                .parse::<f64>()
                .map_err(|_| format!("`{s}` is not a number"))?,
        };
        let divisor = match div {
            "" => 1.0,
            d => d
                .strip_prefix('/')
                .and_then(|d| d.parse::<f64>().ok())
                .ok_or_else(|| format!("`{s}` is not a number (write e.g. pi/2)"))?,
        };
        sign_and_coef * std::f64::consts::PI / divisor
    } else {
        t.parse::<f64>()
            .map_err(|_| format!("`{s}` is not a number"))?
    };
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!("`{s}` is not a finite number"))
    }
}

/// Parses a complex number: `-0.065+0.66i`, `1.3-1.3i`, `2i`, `0.5`, `-i` (`j` works for `i`).
///
/// ```
/// use mpiview_apps::cli::parse_complex;
/// use num_complex::Complex64;
/// assert_eq!(parse_complex("-0.065+0.66i"), Ok(Complex64::new(-0.065, 0.66)));
/// assert_eq!(parse_complex("-1.3-1.3j"), Ok(Complex64::new(-1.3, -1.3)));
/// assert_eq!(parse_complex("2i"), Ok(Complex64::new(0.0, 2.0)));
/// assert!(parse_complex("1+").is_err());
/// ```
pub fn parse_complex(s: &str) -> Result<num_complex::Complex64, String> {
    let bad = || format!("`{s}` is not a complex number (write e.g. -0.065+0.66i)");
    let t: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect();
    let t = t.to_ascii_lowercase().replace('j', "i");
    let finite = |x: f64| if x.is_finite() { Ok(x) } else { Err(bad()) };
    let Some(body) = t.strip_suffix('i') else {
        return Ok(num_complex::Complex64::new(
            finite(t.parse().map_err(|_| bad())?)?,
            0.0,
        ));
    };
    // Split before the sign of the imaginary part (a sign not right after an exponent 'e').
    let bytes = body.as_bytes();
    let split = (1..bytes.len())
        .rev()
        .find(|&k| (bytes[k] == b'+' || bytes[k] == b'-') && bytes[k - 1] != b'e');
    let (re, im) = match split {
        Some(k) => (&body[..k], &body[k..]),
        None => ("0", body),
    };
    let im = match im {
        "" | "+" => 1.0,
        "-" => -1.0,
        x => x.parse::<f64>().map_err(|_| bad())?,
    };
    let re = re.parse::<f64>().map_err(|_| bad())?;
    Ok(num_complex::Complex64::new(finite(re)?, finite(im)?))
}

/// Checks that a result of `bytes` fits in this process's available memory (`MemAvailable`, or
/// `MPIVIEW_MEMORY_LIMIT`): a usage error naming `what` otherwise.
pub fn check_memory(bytes: u128, what: &str) -> Result<(), Error> {
    if let Some(available) = mpiview::sysinfo::memory_for_results()
        && bytes > u128::from(available)
    {
        return Err(Error::Usage(format!(
            "{what} needs {:.2} GB but only {:.2} GB of memory is available",
            bytes as f64 / 1e9,
            available as f64 / 1e9
        )));
    }
    Ok(())
}

/// Checks, before any work, that the busiest node can hold what its ranks will: the
/// controller's `controller` bytes and the largest node's share of `engines` bytes (all
/// engines together, spread evenly). Against the controller's available memory, which counts
/// its cgroup's limit (a job's ranks on a node share it); a usage error naming `what`
/// otherwise. **Controller only** (it reads the client's view of the nodes).
pub fn check_node_memory(
    client: &mpiview::Client,
    controller: u128,
    engines: u128,
    what: &str,
) -> Result<(), Error> {
    let n = client.n_engines() as u128;
    let busiest = client
        .nodes()
        .iter()
        .map(|node| node.engines.len() as u128)
        .max()
        .unwrap_or(n);
    check_memory(controller + engines * busiest / n.max(1), what)
}

/// What parsing the command line came to.
#[derive(Debug)]
pub enum Parsed<T> {
    /// The arguments.
    Args(T),
    /// Help or version was asked for (already printed by rank 0): exit 0.
    Exit,
    /// Bad input (already printed by rank 0): exit 2.
    Usage(Error),
}

impl<T> Parsed<T> {
    /// Runs `f` on the arguments and turns everything into the exit status of every rank: 0 for
    /// help or version, 2 (already reported) for bad arguments, `f`'s result otherwise (its
    /// error printed once by the controller, with the code of [`AppError::exit_code`]).
    pub fn run<E: Into<AppError>>(self, f: impl FnOnce(T) -> Result<(), E>) -> mpiview::Outcome {
        match self {
            Parsed::Args(args) => match f(args).map_err(Into::into) {
                Ok(()) => mpiview::Outcome::success(),
                Err(e) => mpiview::Outcome::failure(e.exit_code(), e.to_string()),
            },
            Parsed::Exit => mpiview::Outcome::success(),
            Parsed::Usage(_) => mpiview::Outcome {
                code: 2,
                message: None,
            },
        }
    }
}

/// Parses the command line into `T` on every rank; rank 0 prints help, version or errors (without
/// colours).
///
/// ```no_run
/// use clap::Parser;
/// #[derive(Parser)]
/// struct Args { #[arg(long, value_parser = mpiview_apps::cli::parse_count)] n: u64 }
/// let cluster = mpiview::Cluster::init().unwrap();
/// match mpiview_apps::cli::parse_args::<Args>(cluster.rank(), std::env::args_os()) {
///     mpiview_apps::cli::Parsed::Args(args) => { /* run */ }
///     mpiview_apps::cli::Parsed::Exit => { /* exit 0 on every rank */ }
///     mpiview_apps::cli::Parsed::Usage(e) => { /* exit 2 on every rank */ }
/// }
/// ```
pub fn parse_args<T: clap::Parser>(
    rank: i32,
    args: impl IntoIterator<Item = OsString>,
) -> Parsed<T> {
    match T::try_parse_from(args) {
        Ok(t) => Parsed::Args(t),
        Err(e) => {
            use clap::error::ErrorKind;
            let quiet = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
            if rank == 0 {
                // Plain text (`StyledStr`'s Display drops the styling).
                let text = e.render().to_string();
                if quiet {
                    print!("{text}");
                } else {
                    eprint!("{text}");
                }
            }
            if quiet {
                Parsed::Exit
            } else {
                // clap has printed the full message; the error keeps its first line.
                let text = e.to_string();
                let first = text
                    .lines()
                    .next()
                    .unwrap_or("bad arguments")
                    .trim_start_matches("error: ");
                Parsed::Usage(Error::Usage(first.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_counts() {
        assert_eq!(parse_positive_count("1e3"), Ok(1000));
        assert_eq!(parse_positive_count("0"), Err("must be at least 1".into()));
        assert!(
            parse_positive_count(" -1e3")
                .unwrap_err()
                .contains("is negative")
        );
        assert!(parse_seed("-0").unwrap_err().contains("is negative"));
        assert_eq!(parse_seed("7"), Ok(7));
    }

    #[test]
    fn outcomes_carry_the_exit_code() {
        let p = Parsed::Args(());
        let o = p.run(|()| Err(AppError::NotFinite("nan".into())));
        assert_eq!((o.code, o.message.as_deref()), (3, Some("nan")));
        let o = Parsed::Args(()).run(|()| Err(Error::usage("bad")));
        assert_eq!(o.code, 2);
        let o = Parsed::Args(()).run(|()| Ok::<(), Error>(()));
        assert_eq!(o.code, 0);
    }

    #[test]
    fn reals_and_pi() {
        use std::f64::consts::PI;
        assert_eq!(parse_real("-1.5"), Ok(-1.5));
        assert_eq!(parse_real("pi"), Ok(PI));
        assert_eq!(parse_real("PI"), Ok(PI));
        assert_eq!(parse_real("2*pi"), Ok(2.0 * PI));
        assert_eq!(parse_real("3pi/4"), Ok(3.0 * PI / 4.0));
        assert!(parse_real("nan").is_err());
        assert!(parse_real("pi/").is_err());
        assert!(parse_real("1e400").is_err());
    }

    #[test]
    fn complex_numbers() {
        use num_complex::Complex64 as C;
        assert_eq!(parse_complex("1.3+1.3i"), Ok(C::new(1.3, 1.3)));
        assert_eq!(parse_complex(" -i "), Ok(C::new(0.0, -1.0)));
        assert_eq!(parse_complex("1e-3-2e+2i"), Ok(C::new(1e-3, -2e2)));
        assert_eq!(parse_complex("-7"), Ok(C::new(-7.0, 0.0)));
        assert!(parse_complex("x").is_err());
        assert!(parse_complex("1+2").is_err(), "without i this is no number");
    }

    #[test]
    fn clap_errors_become_usage_errors() {
        #[derive(clap::Parser, Debug)]
        struct A {
            #[arg(long, value_parser = parse_count)]
            n: u64,
        }
        let ok = parse_args::<A>(1, ["app", "--n", "1e3"].map(OsString::from));
        assert!(matches!(ok, Parsed::Args(A { n: 1000 })));
        let bad = parse_args::<A>(1, ["app", "--n", "x"].map(OsString::from));
        match bad {
            Parsed::Usage(e) => {
                assert_eq!(e.exit_code(), 2);
                assert!(e.to_string().contains("--n"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_args::<A>(1, ["app", "--help"].map(OsString::from)),
            Parsed::Exit
        ));
    }
}
