//! What a call prints, captured: the process's stdout and stderr (descriptors 1 and 2, so C
//! libraries' output too) point into two memory files while the call runs, and go back where
//! they were after it. Output written outside captured calls reaches the terminal as always.
//! A call whose output streams sends what it has printed so far at its progress points
//! ([`Streaming`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::progress::ProgressReporter;
use crate::protocol::{Output, ReplyBody};
use crate::registry::Report;

/// The two memory files a captured call writes into, made on first use and reused.
#[derive(Default)]
pub(crate) struct Capture {
    files: Option<[File; 2]>,
}

impl Capture {
    /// Runs `f` with stdout and stderr captured; its result and what it printed (what `f` did
    /// not take from the files it is given while it ran). Where the memory files cannot be made
    /// (not Linux), `f` runs without capture (given `None`) and the output is empty.
    pub(crate) fn around<T>(&mut self, f: impl FnOnce(Option<&mut [File; 2]>) -> T) -> (T, Output) {
        if self.files.is_none() {
            self.files = memory_file("mpiview-stdout")
                .and_then(|out| Some([out, memory_file("mpiview-stderr")?]));
        }
        let Some(files) = &mut self.files else {
            return (f(None), Output::default());
        };
        flush_all();
        let saved = [redirect(1, &files[0]), redirect(2, &files[1])];
        let value = f(Some(files));
        flush_all();
        for (fd, saved) in [1, 2].into_iter().zip(saved) {
            if let Some(saved) = saved {
                // SAFETY: dup2 of a descriptor this process owns onto 1 or 2.
                unsafe { libc::dup2(saved.as_raw_fd(), fd) };
            }
        }
        (value, take_output(files))
    }
}

/// What the files hold, taken out of them.
fn take_output(files: &mut [File; 2]) -> Output {
    let [out, err] = files;
    Output {
        stdout: take_contents(out),
        stderr: take_contents(err),
        pieces: 0,
    }
}

/// The reports of a call whose output streams: what it printed since its last piece goes to
/// the controller before each progress report that leaves, and on `flush_output`.
pub(crate) struct Streaming<'r, 'o> {
    pub reporter: Option<&'r mut ProgressReporter<'o>>,
    pub files: Option<&'r mut [File; 2]>,
    /// Pieces sent so far.
    pub pieces: u32,
}

impl Report for Streaming<'_, '_> {
    fn progress(&mut self, done: u64, total: u64) {
        let Some(reporter) = self.reporter.as_deref_mut() else {
            return;
        };
        if !reporter.due() {
            return;
        }
        if let Some(files) = self.files.as_deref_mut() {
            self.pieces += u32::from(send_printed(reporter, files));
        }
        reporter.send(ReplyBody::Progress { done, total });
    }

    fn flush_output(&mut self) {
        if let (Some(reporter), Some(files)) =
            (self.reporter.as_deref_mut(), self.files.as_deref_mut())
        {
            self.pieces += u32::from(send_printed(reporter, files));
        }
    }
}

/// Sends what the call printed since its last piece, if anything; whether a piece left (one
/// too large to send is dropped, and not counted).
fn send_printed(reporter: &mut ProgressReporter<'_>, files: &mut [File; 2]) -> bool {
    flush_all();
    let printed = take_output(files);
    let any = !printed.stdout.is_empty() || !printed.stderr.is_empty();
    any && reporter.send(ReplyBody::Printed(printed))
}

/// A file in memory (`memfd_create`), or `None` where it cannot be made.
fn memory_file(name: &str) -> Option<File> {
    let name = std::ffi::CString::new(name).expect("no NUL in the name");
    // SAFETY: memfd_create reads a NUL-terminated name; the descriptor it returns is new.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    // SAFETY: a new descriptor this process owns, given to exactly one `File`.
    (fd >= 0).then(|| unsafe { File::from_raw_fd(fd) })
}

/// Points descriptor `fd` at `file`; the descriptor it had, to put back.
fn redirect(fd: i32, file: &File) -> Option<OwnedFd> {
    // SAFETY: dup of descriptor 1 or 2 gives a new descriptor this process then owns.
    let saved = unsafe { libc::dup(fd) };
    if saved < 0 {
        return None;
    }
    // SAFETY: dup2 of a descriptor this process owns onto 1 or 2.
    unsafe { libc::dup2(file.as_raw_fd(), fd) };
    // SAFETY: `saved` is new and owned by nothing else.
    Some(unsafe { OwnedFd::from_raw_fd(saved) })
}

/// Flushes Rust's and C's buffered output, so that it lands where the descriptors point now.
fn flush_all() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: fflush(NULL) flushes every C output stream.
    unsafe { libc::fflush(std::ptr::null_mut()) };
}

/// What `file` holds, read from the start; it is emptied for the next call. (Writes leave the
/// offset at the end: an offset of 0 means nothing was written, and costs one call to learn.)
fn take_contents(file: &mut File) -> Vec<u8> {
    let mut bytes = Vec::new();
    if file.stream_position().is_ok_and(|end| end == 0) {
        return bytes;
    }
    if file.seek(SeekFrom::Start(0)).is_ok() {
        let _ = file.read_to_end(&mut bytes);
    }
    let _ = file.set_len(0);
    let _ = file.seek(SeekFrom::Start(0));
    bytes
}
