//! Output files that people keep and look at: checked up front, written atomically.
//!
//! - [`output`]: check output paths before heavy work (regular files only, links followed, no
//!   two outputs naming one file); [`output::AtomicFile`] writes to a temporary name in the
//!   target directory and renames it into place (on error, nothing partial is left);
//!   [`output::commit_all`] renames a run's files into place together;
//! - `cleanup` (internal): temporaries removed when SIGINT or SIGTERM ends the process;
//! - [`hdf5`]: datasets of any dimension and scalar/string attributes, serially, in a file
//!   written atomically;
//! - [`png`]: a histogram chart with the exact density over it, and a coloured Julia-set image.
//!
//! Everything here is single-process: the controller writes what the engines computed.

pub(crate) mod cleanup;
pub mod hdf5;
pub mod output;
pub mod png;

pub use output::OutputError;
