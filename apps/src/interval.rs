//! The interval and points of the trapezoidal rule, as `trapz` and its SPMD baseline take them.

use crate::cli::{parse_positive_count, parse_real};

/// `-a`, `-b`, `--n`.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Interval {
    /// Lower bound of the interval (a real number; pi, pi/2, -2pi also work).
    #[arg(short, long, default_value = "0", value_parser = parse_real, allow_hyphen_values = true)]
    pub a: f64,
    /// Upper bound of the interval (a real number).
    #[arg(short, long, default_value = "pi", value_parser = parse_real, allow_hyphen_values = true)]
    pub b: f64,
    /// Number of points (n−1 intervals of width (b−a)/(n−1)); at least 2.
    #[arg(short, long, default_value = "1e8", value_parser = parse_positive_count, allow_negative_numbers = true)]
    pub n: u64,
}
