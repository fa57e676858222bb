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

/// Broadcasts `data` from the root (controller side).
pub(crate) fn bcast_root<T: Equivalence>(comm: RawComm, data: &[T], idle: &mut Idle<'_>) {
    let datatype = T::equivalent_datatype();
    for piece in pieces(data.len()) {
        let chunk = &data[piece];
        let mut raw = request_null();
        // SAFETY: at the root MPI_Ibcast only reads the buffer, so handing it a pointer derived
        // from a shared slice is sound; the request completes before `chunk` goes out of scope.
        unsafe {
            ffi::MPI_Ibcast(
                chunk.as_ptr() as *mut _,
                to_int(chunk.len()),
                datatype.as_raw(),
                ROOT,
                comm.0,
                &mut raw,
            );
            Pending::new(raw, false).wait_transfer(std::mem::size_of_val(chunk), idle);
        }
    }
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

/// Scatters `data` from the root: engine `i` (comm rank `i + 1`) gets `counts[i]` elements, in
/// order. Controller side.
pub(crate) fn scatterv_root<T: Equivalence>(
    comm: RawComm,
    data: &[T],
    counts: &[usize],
    idle: &mut Idle<'_>,
) {
    debug_assert_eq!(counts.iter().sum::<usize>(), data.len());
    if fits_one_collective(data.len()) {
        let (c, displs) = root_layout(counts);
        let datatype = T::equivalent_datatype();
        let mut raw = request_null();
        // SAFETY: the root only reads `data` (as in `bcast_root`); the count arrays and `data`
        // live until the request completes below.
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
            Pending::new(raw, false).wait_transfer(std::mem::size_of_val(data), idle);
        }
    } else {
        let mut sends = Vec::new();
        let mut start = 0;
        for (i, &n) in counts.iter().enumerate() {
            let part = &data[start..start + n];
            start += n;
            for piece in pieces(n) {
                sends.push(isend(comm, to_int(i + 1), &part[piece]));
            }
        }
        wait_all(&mut sends, std::mem::size_of_val(data), idle);
    }
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

/// Gathers `counts[i]` elements from engine `i` into `buf`, in order. Controller side.
pub(crate) fn gatherv_root<T: Equivalence>(
    comm: RawComm,
    buf: &mut [T],
    counts: &[usize],
    idle: &mut Idle<'_>,
) {
    debug_assert_eq!(counts.iter().sum::<usize>(), buf.len());
    if fits_one_collective(buf.len()) {
        let (c, displs) = root_layout(counts);
        let datatype = T::equivalent_datatype();
        let mut raw = request_null();
        // SAFETY: `buf` and the count arrays live until the request completes below.
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
            Pending::new(raw, true).wait_transfer(std::mem::size_of_val(buf), idle);
        }
    } else {
        let mut recvs = Vec::new();
        let mut rest = &mut buf[..];
        for (i, &n) in counts.iter().enumerate() {
            let (part, tail) = rest.split_at_mut(n);
            rest = tail;
            let mut part = part;
            for piece in pieces(n) {
                let (chunk, tail) = part.split_at_mut(piece.len());
                part = tail;
                recvs.push(irecv(comm, to_int(i + 1), chunk));
            }
        }
        let bytes = std::mem::size_of_val(buf);
        wait_all(&mut recvs, bytes, idle);
    }
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

fn isend<T: Equivalence>(comm: RawComm, dest: i32, chunk: &[T]) -> Pending {
    let mut raw = request_null();
    // SAFETY: callers keep `chunk` alive until the returned request has completed (they wait for
    // all of them before returning).
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

fn irecv<T: Equivalence>(comm: RawComm, source: i32, chunk: &mut [T]) -> Pending {
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
