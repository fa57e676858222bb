//! Collectives over a view's communicator (comm rank 0 = the controller, then the view's
//! engines in target order), nonblocking and waited for with backoff, split into pieces when a
//! count would not fit in a C `int`.
//!
//! Counts and displacements of `MPI_Scatterv`/`MPI_Gatherv` are `int`s in units of the element
//! type. When the whole array has more than [`max_count`] elements, some displacement may not
//! fit, so the transfer goes point-to-point instead: every engine's partition moves in pieces of
//! at most `max_count` elements, all posted at once so that the engines copy in parallel. Both
//! sides choose the same path from the same numbers.

use mpi::datatype::Equivalence;
use mpi::ffi;
use mpi::raw::AsRaw;

use super::p2p::{RawComm, max_count, pieces, recv_slice, send_slice};
use super::request::{Idle, Pending, request_null, wait_all};
use crate::protocol::TAG_DATA;

/// The controller's rank in every view communicator.
pub(crate) const ROOT: i32 = 0;

fn to_int(n: usize) -> i32 {
    i32::try_from(n).expect("count checked against max_count")
}

/// The root's side of a collective, started: its requests, then the count arrays they read
/// (dropped after the requests complete: fields drop in order).
pub(crate) struct Started {
    pending: Vec<Pending>,
    /// The count and displacement arrays of every `*v` collective among the requests.
    _layouts: Vec<(Vec<i32>, Vec<i32>)>,
    bytes: usize,
}

impl Started {
    /// Whether every request has completed (tests each one not yet done).
    pub(crate) fn test(&mut self) -> bool {
        let mut all = true;
        for p in &mut self.pending {
            if !p.is_done() && p.test().is_none() {
                all = false;
            }
        }
        all
    }

    /// The bytes these requests move.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Waits for every request, calling `idle` between rounds of tests.
    pub(crate) fn wait(mut self, idle: &mut Idle<'_>) {
        wait_all(&mut self.pending, self.bytes, idle);
    }

    /// Adds the requests of `other` after these (started after them).
    pub(crate) fn then(mut self, other: Started) -> Started {
        self.pending.extend(other.pending);
        self._layouts.extend(other._layouts);
        self.bytes += other.bytes;
        self
    }
}

/// Starts a broadcast of `data` from the root (controller side).
///
/// # Safety
/// `data` must stay valid and unchanged until the result has completed or been dropped.
pub(crate) unsafe fn start_bcast_root<T: Equivalence>(comm: RawComm, data: &[T]) -> Started {
    let datatype = T::equivalent_datatype();
    let mut pending = Vec::new();
    for piece in pieces(data.len()) {
        let chunk = &data[piece];
        let mut raw = request_null();
        // SAFETY: at the root MPI_Ibcast only reads the buffer, so handing it a pointer derived
        // from a shared slice is sound; the caller keeps it alive until completion.
        unsafe {
            ffi::MPI_Ibcast(
                chunk.as_ptr() as *mut _,
                to_int(chunk.len()),
                datatype.as_raw(),
                ROOT,
                comm.0,
                &mut raw,
            );
            pending.push(Pending::new(raw, false));
        }
    }
    Started {
        pending,
        _layouts: Vec::new(),
        bytes: std::mem::size_of_val(data),
    }
}

/// Broadcasts `data` from the root (controller side).
pub(crate) fn bcast_root<T: Equivalence>(comm: RawComm, data: &[T], idle: &mut Idle<'_>) {
    // SAFETY: waited for before `data` goes out of scope.
    unsafe { start_bcast_root(comm, data) }.wait(idle);
}

/// Receives a broadcast from the root into `buf` (engine side).
pub(crate) fn bcast_recv<T: Equivalence>(comm: RawComm, buf: &mut [T]) {
    let datatype = T::equivalent_datatype();
    for piece in pieces(buf.len()) {
        let chunk = &mut buf[piece];
        let mut raw = request_null();
        // SAFETY: the request completes before `chunk` goes out of scope.
        unsafe {
            ffi::MPI_Ibcast(
                chunk.as_mut_ptr().cast(),
                to_int(chunk.len()),
                datatype.as_raw(),
                ROOT,
                comm.0,
                &mut raw,
            );
            Pending::new(raw, false).wait_transfer(std::mem::size_of_val(chunk), &mut || true);
        }
    }
}

/// Whether a transfer of `total` elements fits one `Scatterv`/`Gatherv`.
fn fits_one_collective(total: usize) -> bool {
    total <= max_count()
}

/// Starts scattering `data` from the root: engine `i` (comm rank `i + 1`) gets `counts[i]`
/// elements, in order. Controller side.
///
/// # Safety
/// `data` must stay valid and unchanged until the result has completed or been dropped.
pub(crate) unsafe fn start_scatterv_root<T: Equivalence>(
    comm: RawComm,
    data: &[T],
    counts: &[usize],
) -> Started {
    debug_assert_eq!(counts.iter().sum::<usize>(), data.len());
    let bytes = std::mem::size_of_val(data);
    if fits_one_collective(data.len()) {
        let (c, displs) = root_layout(counts);
        let datatype = T::equivalent_datatype();
        let mut raw = request_null();
        // SAFETY: the root only reads `data` (as in `start_bcast_root`), which the caller keeps
        // alive; the count arrays move into the result, which drops them after the request.
        unsafe {
            ffi::MPI_Iscatterv(
                data.as_ptr() as *const _,
                c.as_ptr(),
                displs.as_ptr(),
                datatype.as_raw(),
                std::ptr::null_mut(),
                0,
                datatype.as_raw(),
                ROOT,
                comm.0,
                &mut raw,
            );
            Started {
                pending: vec![Pending::new(raw, false)],
                _layouts: vec![(c, displs)],
                bytes,
            }
        }
    } else {
        let mut pending = Vec::new();
        let mut start = 0;
        for (i, &n) in counts.iter().enumerate() {
            let part = &data[start..start + n];
            start += n;
            for piece in pieces(n) {
                // SAFETY: the caller keeps `data` alive until the requests complete.
                pending.push(unsafe { isend(comm, to_int(i + 1), &part[piece]) });
            }
        }
        Started {
            pending,
            _layouts: Vec::new(),
            bytes,
        }
    }
}

/// Scatters `data` from the root: engine `i` (comm rank `i + 1`) gets `counts[i]` elements, in
/// order. Controller side.
pub(crate) fn scatterv_root<T: Equivalence>(
    comm: RawComm,
    data: &[T],
    counts: &[usize],
    idle: &mut Idle<'_>,
) {
    // SAFETY: waited for before `data` goes out of scope.
    unsafe { start_scatterv_root(comm, data, counts) }.wait(idle);
}

/// Receives this engine's part of a scatter into `buf` (engine side); `total` is the number of
/// elements of the whole array.
pub(crate) fn scatterv_recv<T: Equivalence>(comm: RawComm, buf: &mut [T], total: usize) {
    if fits_one_collective(total) {
        let datatype = T::equivalent_datatype();
        let mut raw = request_null();
        // SAFETY: `buf` lives until the request completes below.
        unsafe {
            ffi::MPI_Iscatterv(
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                datatype.as_raw(),
                buf.as_mut_ptr().cast(),
                to_int(buf.len()),
                datatype.as_raw(),
                ROOT,
                comm.0,
                &mut raw,
            );
            Pending::new(raw, true).wait_transfer(std::mem::size_of_val(buf), &mut || true);
        }
    } else {
        recv_slice(comm, ROOT, TAG_DATA, buf, &mut || true);
    }
}

/// Starts gathering `counts[i]` elements from engine `i` into `buf`, in order. Controller
/// side.
///
/// # Safety
/// `buf` must stay valid, and be neither read nor written, until the result has completed or
/// been dropped.
pub(crate) unsafe fn start_gatherv_root<T: Equivalence>(
    comm: RawComm,
    buf: &mut [T],
    counts: &[usize],
) -> Started {
    debug_assert_eq!(counts.iter().sum::<usize>(), buf.len());
    let bytes = std::mem::size_of_val(buf);
    if fits_one_collective(buf.len()) {
        let (c, displs) = root_layout(counts);
        let datatype = T::equivalent_datatype();
        let mut raw = request_null();
        // SAFETY: the caller keeps `buf` alive and untouched; the count arrays move into the
        // result, which drops them after the request.
        unsafe {
            ffi::MPI_Igatherv(
                std::ptr::null(),
                0,
                datatype.as_raw(),
                buf.as_mut_ptr().cast(),
                c.as_ptr(),
                displs.as_ptr(),
                datatype.as_raw(),
                ROOT,
                comm.0,
                &mut raw,
            );
            Started {
                pending: vec![Pending::new(raw, true)],
                _layouts: vec![(c, displs)],
                bytes,
            }
        }
    } else {
        let mut pending = Vec::new();
        let mut rest = &mut buf[..];
        for (i, &n) in counts.iter().enumerate() {
            let (part, tail) = rest.split_at_mut(n);
            rest = tail;
            let mut part = part;
            for piece in pieces(n) {
                let (chunk, tail) = part.split_at_mut(piece.len());
                part = tail;
                // SAFETY: the caller keeps `buf` alive and untouched until completion.
                pending.push(unsafe { irecv(comm, to_int(i + 1), chunk) });
            }
        }
        Started {
            pending,
            _layouts: Vec::new(),
            bytes,
        }
    }
}

/// Gathers `counts[i]` elements from engine `i` into `buf`, in order. Controller side.
pub(crate) fn gatherv_root<T: Equivalence>(
    comm: RawComm,
    buf: &mut [T],
    counts: &[usize],
    idle: &mut Idle<'_>,
) {
    // SAFETY: waited for before `buf` goes out of scope or is used again.
    unsafe { start_gatherv_root(comm, buf, counts) }.wait(idle);
}

/// Sends this engine's part of a gather (engine side); `total` is the number of elements of the
/// whole gathered array.
pub(crate) fn gatherv_send<T: Equivalence>(comm: RawComm, data: &[T], total: usize) {
    if fits_one_collective(total) {
        let datatype = T::equivalent_datatype();
        let mut raw = request_null();
        // SAFETY: non-root ranks only read the send buffer; it lives until completion below.
        unsafe {
            ffi::MPI_Igatherv(
                data.as_ptr() as *const _,
                to_int(data.len()),
                datatype.as_raw(),
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
                datatype.as_raw(),
                ROOT,
                comm.0,
                &mut raw,
            );
            Pending::new(raw, false).wait_transfer(std::mem::size_of_val(data), &mut || true);
        }
    } else {
        send_slice(comm, ROOT, TAG_DATA, data, &mut || true);
    }
}

/// Counts and displacements over the whole communicator for engine `counts` (the root, comm
/// rank 0, has none).
fn root_layout(counts: &[usize]) -> (Vec<i32>, Vec<i32>) {
    let c: Vec<i32> = std::iter::once(0)
        .chain(counts.iter().map(|&n| to_int(n)))
        .collect();
    let displs = crate::partition::offsets(
        &std::iter::once(0)
            .chain(counts.iter().copied())
            .collect::<Vec<_>>(),
    )
    .into_iter()
    .map(to_int)
    .collect();
    (c, displs)
}

/// # Safety
/// `chunk` must stay valid until the returned request has completed or been dropped.
unsafe fn isend<T: Equivalence>(comm: RawComm, dest: i32, chunk: &[T]) -> Pending {
    let mut raw = request_null();
    // SAFETY: the caller keeps `chunk` alive until the request has completed.
    unsafe {
        ffi::MPI_Isend(
            chunk.as_ptr().cast(),
            to_int(chunk.len()),
            T::equivalent_datatype().as_raw(),
            dest,
            TAG_DATA,
            comm.0,
            &mut raw,
        );
        Pending::new(raw, false)
    }
}

/// # Safety
/// `chunk` must stay valid and untouched until the returned request has completed or been
/// dropped.
unsafe fn irecv<T: Equivalence>(comm: RawComm, source: i32, chunk: &mut [T]) -> Pending {
    let mut raw = request_null();
    // SAFETY: as in `isend`.
    unsafe {
        ffi::MPI_Irecv(
            chunk.as_mut_ptr().cast(),
            to_int(chunk.len()),
            T::equivalent_datatype().as_raw(),
            source,
            TAG_DATA,
            comm.0,
            &mut raw,
        );
        Pending::new(raw, true)
    }
}
