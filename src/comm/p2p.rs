//! Point-to-point messaging with owned buffers: a posted receive that is tested in an event loop
//! ([`Mailbox`]), sends that complete in the background ([`Outbox`]), and typed transfers of
//! any length that wait with backoff ([`send_slice`], [`recv_slice`]).

use mpi::datatype::Equivalence;
use mpi::ffi;
use mpi::raw::AsRaw;
use serde::Serialize;

use super::request::{Idle, Pending, status_bytes, status_source};
use crate::error::Result;
use crate::protocol::{INLINE_MAX, TAG_BULK, TAG_MSG, frame};

/// A raw communicator handle; the communicator it names is owned elsewhere and outlives it.
#[derive(Clone, Copy)]
pub(crate) struct RawComm(pub ffi::MPI_Comm);

/// `MPI_ANY_SOURCE`.
pub(crate) fn any_source() -> i32 {
    // SAFETY: reading an immutable constant exported by the MPI shim.
    unsafe { ffi::RSMPI_ANY_SOURCE }
}

static MAX_COUNT: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(i32::MAX as usize);

/// Most elements one MPI call may carry (counts are C `int`). Larger transfers are split.
/// `MPIVIEW_MAX_MESSAGE_ELEMENTS` lowers it (the controller's value, sent to every rank), so
/// that tests can exercise the splitting on small arrays.
pub(crate) fn max_count() -> usize {
    MAX_COUNT.load(std::sync::atomic::Ordering::Relaxed)
}

/// Sets [`max_count`] (at start-up, to the controller's value).
pub(crate) fn set_max_count(n: u64) {
    let n = n.clamp(1, i32::MAX as u64) as usize;
    MAX_COUNT.store(n, std::sync::atomic::Ordering::Relaxed);
}

/// A receive kept posted for control messages of at most `INLINE_MAX` bytes: a persistent
/// request (`MPI_Recv_init`), restarted after each message, which costs less than a new
/// `MPI_Irecv` every time.
pub(crate) struct Mailbox {
    raw: ffi::MPI_Request,
    /// Whether the receive is started (and not yet completed).
    active: bool,
    // The buffer outlives the request: Drop cancels and frees the request first.
    buf: Vec<u8>,
}

impl Mailbox {
    /// Posts a receive from `source` (or [`any_source`]) on `tag`.
    pub(crate) fn post(comm: RawComm, source: i32, tag: i32) -> Mailbox {
        let mut buf = vec![0u8; INLINE_MAX + 16];
        let mut raw = super::request::request_null();
        // SAFETY: `buf` is owned by the Mailbox with the request and never moved or freed while
        // the request exists (Drop frees the request first); its heap buffer does not move.
        unsafe {
            ffi::MPI_Recv_init(
                buf.as_mut_ptr().cast(),
                buf.len() as i32,
                ffi::RSMPI_UINT8_T,
                source,
                tag,
                comm.0,
                &mut raw,
            );
            ffi::MPI_Start(&mut raw);
        }
        Mailbox {
            raw,
            active: true,
            buf,
        }
    }

    /// The next message if one has arrived: its source rank and bytes. The receive is posted
    /// again before this returns.
    pub(crate) fn poll(&mut self) -> Option<(i32, Vec<u8>)> {
        self.poll_with(|source, bytes| (source, bytes.to_vec()))
    }

    /// Like [`poll`](Self::poll), but hands the message to `read` in place (no copy), then posts
    /// the receive again.
    pub(crate) fn poll_with<R>(&mut self, read: impl FnOnce(i32, &[u8]) -> R) -> Option<R> {
        let mut flag = 0;
        // SAFETY: MPI_Status is plain data that MPI_Test fills in.
        let mut status: ffi::MPI_Status = unsafe { std::mem::zeroed() };
        // SAFETY: `raw` is a started persistent request owned by this Mailbox.
        unsafe { ffi::MPI_Test(&mut self.raw, &mut flag, &mut status) };
        if flag == 0 {
            return None;
        }
        self.active = false;
        let out = read(status_source(&status), &self.buf[..status_bytes(&status)]);
        // SAFETY: the request is inactive (completed) and its buffer is not in use.
        unsafe { ffi::MPI_Start(&mut self.raw) };
        self.active = true;
        Some(out)
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        // SAFETY: `raw` is this Mailbox's persistent request: an active one is cancelled and
        // completed before the request is freed and before `buf` is dropped.
        unsafe {
            if self.active {
                ffi::MPI_Cancel(&mut self.raw);
                ffi::MPI_Wait(&mut self.raw, ffi::RSMPI_STATUS_IGNORE);
            }
            ffi::MPI_Request_free(&mut self.raw);
        }
    }
}

/// Operations that complete in the background (sends, and this rank's part of broadcasts and
/// gathers it started); each keeps its buffer until MPI is done with it.
pub(crate) struct Outbox {
    comm: RawComm,
    // (Pending, buffer): tuple fields drop in order, so the request completes first. Oldest
    // first: operations mostly complete in the order they started.
    sends: std::collections::VecDeque<(Pending, Vec<u8>)>,
}

impl Outbox {
    pub(crate) fn new(comm: RawComm) -> Outbox {
        Outbox {
            comm,
            sends: std::collections::VecDeque::new(),
        }
    }

    /// Keeps `buffer` until `pending`, an operation that reads or writes it, has completed.
    pub(crate) fn keep(&mut self, pending: Pending, buffer: Vec<u8>) {
        self.sends.push_back((pending, buffer));
        if self.sends.len() > 64 {
            self.sends.retain_mut(|(p, _)| p.test().is_none());
        }
    }

    /// Starts sending `bytes` to `dest` on `tag`.
    pub(crate) fn send_bytes(&mut self, dest: i32, tag: i32, bytes: Vec<u8>) {
        let mut raw = super::request::request_null();
        // SAFETY: the buffer moves into `self.sends` with the request and is freed only after it
        // completes; moving the Vec does not move its heap buffer.
        let pending = unsafe {
            ffi::MPI_Isend(
                bytes.as_ptr().cast(),
                bytes.len() as i32,
                ffi::RSMPI_UINT8_T,
                dest,
                tag,
                self.comm.0,
                &mut raw,
            );
            Pending::new(raw, false)
        };
        self.keep(pending, bytes);
    }

    /// Encodes and sends a control message (inline, or a marker plus its body as one bulk
    /// message; a body over 2 GiB is an error: large data belongs in arrays, which move
    /// natively and in pieces).
    pub(crate) fn send_message<T: Serialize>(&mut self, dest: i32, msg: &T) -> Result<()> {
        let (framed, bulk) = frame(msg)?;
        if let Some(body) = &bulk
            && body.len() > i32::MAX as usize
        {
            return Err(crate::Error::Invalid(format!(
                "a message of {} bytes is too large to send encoded; move large data as arrays",
                body.len()
            )));
        }
        self.send_bytes(dest, TAG_MSG, framed);
        if let Some(body) = bulk {
            self.send_bytes(dest, TAG_BULK, body);
        }
        super::doorbell::ring(dest);
        Ok(())
    }

    /// Whether sends are still in flight (tested now).
    pub(crate) fn in_flight(&mut self) -> bool {
        self.progress();
        !self.sends.is_empty()
    }

    /// Frees the buffers of finished operations, oldest first, up to the first one still in
    /// flight (one test per call in the steady state: every test drives all of MPI's progress).
    pub(crate) fn progress(&mut self) {
        while let Some((p, _)) = self.sends.front_mut() {
            if p.test().is_none() {
                return;
            }
            self.sends.pop_front();
        }
    }

    /// Like [`progress`](Self::progress), but only once a few operations have piled up: on a
    /// hot path whose other tests drive MPI's progress anyway, so that each loop costs one test
    /// fewer.
    pub(crate) fn progress_lazily(&mut self) {
        if self.sends.len() > 8 {
            self.progress();
        }
    }

    /// Waits until every send has finished.
    pub(crate) fn flush(&mut self) {
        let mut backoff = super::poll::Backoff::new();
        loop {
            self.progress();
            if self.sends.is_empty() {
                return;
            }
            backoff.pause();
        }
    }
}

/// Receives the bulk body of a control message (`len` bytes, one message) from `source`.
pub(crate) fn recv_bulk(comm: RawComm, source: i32, len: usize, idle: &mut Idle<'_>) -> Vec<u8> {
    let mut body = vec![0u8; len];
    let mut raw = super::request::request_null();
    // SAFETY: `body` outlives the request, which completes before this returns.
    unsafe {
        ffi::MPI_Irecv(
            body.as_mut_ptr().cast(),
            len as i32,
            ffi::RSMPI_UINT8_T,
            source,
            TAG_BULK,
            comm.0,
            &mut raw,
        );
        Pending::new(raw, true).wait_transfer(len, idle);
    }
    body
}

/// Sends `data` to `dest` on `tag` in pieces of at most [`max_count`] elements, waiting with
/// backoff.
pub(crate) fn send_slice<T: Equivalence>(
    comm: RawComm,
    dest: i32,
    tag: i32,
    data: &[T],
    idle: &mut Idle<'_>,
) {
    let datatype = T::equivalent_datatype();
    for piece in pieces(data.len()) {
        let chunk = &data[piece];
        let mut raw = super::request::request_null();
        // SAFETY: `chunk` is borrowed for this whole block and the request is completed (by
        // `wait`, or by Pending's Drop when unwinding) before the block ends.
        unsafe {
            ffi::MPI_Isend(
                chunk.as_ptr().cast(),
                chunk.len() as i32,
                datatype.as_raw(),
                dest,
                tag,
                comm.0,
                &mut raw,
            );
            Pending::new(raw, false).wait_transfer(std::mem::size_of_val(chunk), idle);
        }
    }
}

/// Receives exactly `buf.len()` elements from `source` on `tag`, in the pieces [`send_slice`]
/// uses, waiting with backoff.
pub(crate) fn recv_slice<T: Equivalence>(
    comm: RawComm,
    source: i32,
    tag: i32,
    buf: &mut [T],
    idle: &mut Idle<'_>,
) {
    let datatype = T::equivalent_datatype();
    for piece in pieces(buf.len()) {
        let chunk = &mut buf[piece];
        let mut raw = super::request::request_null();
        // SAFETY: as in `send_slice`; the receive is completed before `chunk` goes out of scope.
        unsafe {
            ffi::MPI_Irecv(
                chunk.as_mut_ptr().cast(),
                chunk.len() as i32,
                datatype.as_raw(),
                source,
                tag,
                comm.0,
                &mut raw,
            );
            Pending::new(raw, true).wait_transfer(std::mem::size_of_val(chunk), idle);
        }
    }
}

/// The pieces a transfer of `len` elements is split into (at least one, so that an empty array
/// still sends one empty message and both sides stay in step).
pub(crate) fn pieces(len: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let max = max_count();
    let n = len.div_ceil(max).max(1);
    (0..n).map(move |i| (i * max).min(len)..((i + 1) * max).min(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_everything_once() {
        let max = max_count();
        assert_eq!(pieces(0).collect::<Vec<_>>(), vec![0..0]);
        assert_eq!(pieces(5).collect::<Vec<_>>(), vec![0..5]);
        let big = max + 3;
        let p: Vec<_> = pieces(big).collect();
        assert_eq!(p, vec![0..max, max..big]);
    }
}
