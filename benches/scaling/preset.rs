//! Named large studies (`--preset`): the sizes at which the apps' serial parts showed on a
//! 16-core machine, with their output files written so that every phase is timed.

use clap::ValueEnum;
use serde::Serialize;

use super::{App, Args, Mode};

/// A large strong-scaling study of one app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
pub(crate) enum Preset {
    /// trapz of sin² with 1e9 points, beside the raw SPMD program (the headline).
    #[value(name = "trapz-1e9")]
    Trapz1e9,
    /// julia on an 8192 × 8192 grid, writing its HDF5 file and picture.
    #[value(name = "julia-8192")]
    Julia8192,
    /// maxnormal with 1e8 draws, writing its HDF5 file and picture.
    #[value(name = "maxnormal-1e8")]
    Maxnormal1e8,
}

impl Preset {
    /// `args` set up for this study: the app, strong scaling, its size (and julia's columns),
    /// output files on for the apps that write them, the SPMD baseline for trapz.
    pub(crate) fn apply(self, args: &mut Args) {
        args.mode = Mode::Strong;
        match self {
            Preset::Trapz1e9 => {
                args.app = App::Trapz;
                args.size = Some(1_000_000_000);
                args.spmd = true;
            }
            Preset::Julia8192 => {
                args.app = App::Julia;
                args.size = Some(8192);
                args.app_args = format!("--n 8192 {}", args.app_args);
                args.write_files = true;
            }
            Preset::Maxnormal1e8 => {
                args.app = App::Maxnormal;
                args.size = Some(100_000_000);
                args.write_files = true;
            }
        }
    }
}
