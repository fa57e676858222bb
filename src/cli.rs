//! Command-line helpers for mpiview programs: numbers written the way scientists write them,
//! and argument parsing that speaks from rank 0 only.
//!
//! Every rank of an MPI job parses the same command line, so every rank reaches the same
//! verdict; printing it from every rank would repeat each message N times. [`parse_args`] lets
//! the controller report (help, version, or the error) and the driver end the job with the right
//! exit status (0 for help, 2 for bad input) on every rank.

use std::ffi::OsString;

use crate::error::Error;

/// Parses a count: `1000000`, `1_000_000`, `1e6`, `2.5e3` (a float form must be a whole number).
///
/// ```
/// use mpiview::cli::parse_count;
/// assert_eq!(parse_count("1_000_000"), Ok(1_000_000));
/// assert_eq!(parse_count("1e9"), Ok(1_000_000_000));
/// assert!(parse_count("1.5").is_err());
/// assert!(parse_count("-3").is_err());
/// ```
pub fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    if t.is_empty() {
        return Err("an empty number".into());
    }
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    let x: f64 = t
        .parse()
        .map_err(|_| format!("`{s}` is not a number (write 1000000, 1_000_000 or 1e6)"))?;
    if !x.is_finite() || x < 0.0 {
        return Err(format!("`{s}` is not a non-negative count"));
    }
    if x.fract() != 0.0 {
        return Err(format!("`{s}` is not a whole number"));
    }
    if x >= 18_446_744_073_709_551_616.0 {
        return Err(format!("`{s}` is too large"));
    }
    Ok(x as u64)
}

/// Parses a positive count (at least 1).
pub fn parse_positive_count(s: &str) -> Result<u64, String> {
    match parse_count(s)? {
        0 => Err("must be at least 1".into()),
        n => Ok(n),
    }
}

/// Parses a real number: `0.5`, `1e-3`, `1_000.5`, or `pi`, `-pi`, `2pi`, `pi/2` (common bounds).
///
/// ```
/// use mpiview::cli::parse_real;
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

/// Parses the command line into `T` on every rank; rank 0 prints help, version or errors (without
/// colours).
///
/// ```no_run
/// use clap::Parser;
/// #[derive(Parser)]
/// struct Args { #[arg(long, value_parser = mpiview::cli::parse_count)] n: u64 }
/// let cluster = mpiview::Cluster::init().unwrap();
/// match mpiview::cli::parse_args::<Args>(cluster.rank(), std::env::args_os()) {
///     mpiview::cli::Parsed::Args(args) => { /* run */ }
///     mpiview::cli::Parsed::Exit => { /* exit 0 on every rank */ }
///     mpiview::cli::Parsed::Usage(e) => { /* exit 2 on every rank */ }
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
    fn counts_in_every_spelling() {
        assert_eq!(parse_count("100"), Ok(100));
        assert_eq!(parse_count("1_000"), Ok(1000));
        assert_eq!(parse_count("1e10"), Ok(10_000_000_000));
        assert_eq!(parse_count("2.5e3"), Ok(2500));
        assert_eq!(parse_count(" 7 "), Ok(7));
        assert!(parse_count("").is_err());
        assert!(parse_count("abc").is_err());
        assert!(parse_count("1e30").is_err());
        assert!(parse_count("nan").is_err());
        assert_eq!(parse_positive_count("0"), Err("must be at least 1".into()));
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
