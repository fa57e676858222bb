//! A view's broadcast channel and reply gather: one request to every engine of a view as one
//! `MPI_Ibcast`, and their answers back as one `MPI_Igather`, so that the controller's cost of a
//! request to P engines grows as the collectives' (log P in a tree) instead of P sends and P
//! receives.
//!
//! **Requests.** Every engine of the view keeps a broadcast of a fixed-size header
//! ([`HEADER`] bytes) posted on the view's request communicator ([`Listener`]); the controller
//! broadcasts each request into it ([`broadcast`]). A request that does not fit in the header
//! says its length there and follows as a second broadcast of exactly that length, which the
//! engines post once they have read the header. At shutdown a *close* header completes every
//! posted broadcast, so that nothing is left pending at `MPI_Finalize`.
//!
//! **Replies.** A broadcast request names the size of its reply slot. Each engine joins one
//! `MPI_Igather` of its slot on the view's reply communicator when it has its answer
//! ([`join_gather`]); the controller posts the gather when it sends the request
//! ([`RootGather`]) and reads every engine's reply when it completes.
//!
//! The three kinds of traffic of a view (requests, replies, data) use three communicators:
//! collectives on one communicator must be started in the same order on every member, and an
//! engine keeps its next request's broadcast posted while it runs (and answers) the previous
//! one, and while it takes part in that one's data collectives.

use mpi::ffi;

use super::p2p::{Outbox, RawComm};
use super::request::{Pending, request_null};
use crate::error::{Error, Result};

/// Bytes of every request header broadcast. A request of up to `HEADER - 5` bytes travels in it
/// alone.
pub(crate) const HEADER: usize = 512;

const INLINE: u8 = 1;
const LARGE: u8 = 2;
const CLOSE: u8 = 3;

/// The header that carries `message`, and the body that follows when it does not fit.
fn header_for(message: Vec<u8>) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut header = vec![0u8; HEADER];
    if message.len() <= HEADER - 5 {
        header[0] = INLINE;
        header[1..5].copy_from_slice(&(message.len() as u32).to_le_bytes());
        header[5..5 + message.len()].copy_from_slice(&message);
        (header, None)
    } else {
        header[0] = LARGE;
        header[1..9].copy_from_slice(&(message.len() as u64).to_le_bytes());
        (header, Some(message))
    }
}

/// What a received header says.
#[derive(Debug, PartialEq, Eq)]
enum Header<'a> {
    Inline(&'a [u8]),
    Large(usize),
    Close,
}

fn read_header(header: &[u8]) -> Result<Header<'_>> {
    match header.first() {
        Some(&INLINE) => {
            let len = u32::from_le_bytes(header[1..5].try_into().expect("4 bytes")) as usize;
            header
                .get(5..5 + len)
                .map(Header::Inline)
                .ok_or_else(|| Error::Runtime("a corrupt request header".into()))
        }
        Some(&LARGE) => Ok(Header::Large(u64::from_le_bytes(
            header[1..9].try_into().expect("8 bytes"),
        ) as usize)),
        Some(&CLOSE) => Ok(Header::Close),
        _ => Err(Error::Runtime("a corrupt request header".into())),
    }
}

/// Starts a broadcast of `buf` from the root (comm rank 0) on `comm`.
fn ibcast(comm: RawComm, buf: &mut [u8]) -> Pending {
    let mut raw = request_null();
    // SAFETY: callers keep `buf` alive (and unmoved: it is a heap buffer) until the returned
    // request completes.
    unsafe {
        ffi::MPI_Ibcast(
            buf.as_mut_ptr().cast(),
            buf.len() as i32,
            ffi::RSMPI_UINT8_T,
            0,
            comm.0,
            &mut raw,
        );
        Pending::new(raw, false)
    }
}

/// Controller side: broadcasts `message` (an encoded request) on the request communicator
/// `comm`; the operations complete in the background in `outbox`.
pub(crate) fn broadcast(outbox: &mut Outbox, comm: RawComm, message: Vec<u8>) {
    let (mut header, body) = header_for(message);
    let pending = ibcast(comm, &mut header);
    outbox.keep(pending, header);
    if let Some(mut body) = body {
        let pending = ibcast(comm, &mut body);
        outbox.keep(pending, body);
    }
}

/// Controller side: completes every engine's posted header broadcast on `comm` with a close
/// header (at shutdown, after the last request).
pub(crate) fn close(outbox: &mut Outbox, comm: RawComm) {
    let mut header = vec![0u8; HEADER];
    header[0] = CLOSE;
    let pending = ibcast(comm, &mut header);
    outbox.keep(pending, header);
}

/// Engine side: the request broadcast kept posted on one view's request communicator.
pub(crate) struct Listener {
    comm: RawComm,
    /// The posted header broadcast (`None` once closed).
    header: Option<(Pending, Vec<u8>)>,
    /// A large request's body on its way.
    body: Option<(Pending, Vec<u8>)>,
}

/// What a listener got.
pub(crate) enum Heard {
    /// An encoded request.
    Message(Vec<u8>),
    /// The controller closed the channel: nothing more will come.
    Closed,
}

impl Listener {
    /// Posts the first header broadcast.
    pub(crate) fn post(comm: RawComm) -> Listener {
        let mut listener = Listener {
            comm,
            header: None,
            body: None,
        };
        listener.post_header();
        listener
    }

    fn post_header(&mut self) {
        let mut buf = vec![0u8; HEADER];
        let pending = ibcast(self.comm, &mut buf);
        self.header = Some((pending, buf));
    }

    /// The next request if one has arrived completely; the next header broadcast is posted
    /// before this returns.
    pub(crate) fn poll(&mut self) -> Result<Option<Heard>> {
        if let Some((pending, _)) = &mut self.body {
            if pending.test().is_none() {
                return Ok(None);
            }
            let (_, body) = self.body.take().expect("checked");
            self.post_header();
            return Ok(Some(Heard::Message(body)));
        }
        let Some((pending, _)) = &mut self.header else {
            return Ok(None);
        };
        if pending.test().is_none() {
            return Ok(None);
        }
        let (_, header) = self.header.take().expect("checked");
        match read_header(&header)? {
            Header::Inline(message) => {
                let message = message.to_vec();
                self.post_header();
                Ok(Some(Heard::Message(message)))
            }
            Header::Large(len) => {
                // The body is the next broadcast on this communicator: post it before the next
                // header, as the controller started them.
                let mut body = vec![0u8; len];
                let pending = ibcast(self.comm, &mut body);
                self.body = Some((pending, body));
                self.poll()
            }
            Header::Close => Ok(Some(Heard::Closed)),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // A header broadcast still posted when the engine stops (the job is being torn down after
        // a failure): nothing will ever complete it, so neither wait for it nor free its buffer.
        for (pending, buf) in [self.header.take(), self.body.take()].into_iter().flatten() {
            if pending.is_done() {
                continue;
            }
            pending.abandon();
            std::mem::forget(buf);
        }
    }
}

/// Engine side: joins the reply gather on the reply communicator `comm` with `slot`; the
/// operation completes in the background in `outbox`.
pub(crate) fn join_gather(outbox: &mut Outbox, comm: RawComm, mut slot: Vec<u8>) {
    let mut raw = request_null();
    // SAFETY: `slot` moves into the outbox with the request and lives until it completes; the
    // receive arguments are ignored on non-root ranks.
    let pending = unsafe {
        ffi::MPI_Igather(
            slot.as_mut_ptr().cast(),
            slot.len() as i32,
            ffi::RSMPI_UINT8_T,
            std::ptr::null_mut(),
            0,
            ffi::RSMPI_UINT8_T,
            0,
            comm.0,
            &mut raw,
        );
        Pending::new(raw, false)
    };
    outbox.keep(pending, slot);
}

/// Controller side: the reply gather of one broadcast request, posted when it is sent.
pub(crate) struct RootGather {
    pending: Option<Pending>,
    slots: Vec<u8>,
    mine: Vec<u8>,
    slot: usize,
}

impl RootGather {
    /// Posts the gather of `engines` slots of `slot` bytes on the reply communicator `comm`.
    pub(crate) fn post(comm: RawComm, engines: usize, slot: usize) -> RootGather {
        let mut slots = vec![0u8; (engines + 1) * slot];
        let mut mine = vec![0u8; slot];
        let mut raw = request_null();
        // SAFETY: both buffers move into the returned value with the request; they are freed only
        // once it has completed (or leaked with it: see Drop).
        let pending = unsafe {
            ffi::MPI_Igather(
                mine.as_mut_ptr().cast(),
                slot as i32,
                ffi::RSMPI_UINT8_T,
                slots.as_mut_ptr().cast(),
                slot as i32,
                ffi::RSMPI_UINT8_T,
                0,
                comm.0,
                &mut raw,
            );
            Pending::new(raw, false)
        };
        RootGather {
            pending: Some(pending),
            slots,
            mine,
            slot,
        }
    }

    /// Whether every engine has joined.
    pub(crate) fn test(&mut self) -> bool {
        let done = match &mut self.pending {
            None => return true,
            Some(p) => p.is_done() || p.test().is_some(),
        };
        if done {
            self.pending = None;
        }
        done
    }

    /// The engines' slots, in view order (after [`test`](Self::test) said done).
    pub(crate) fn slots(&self) -> impl Iterator<Item = &[u8]> {
        self.slots.chunks_exact(self.slot).skip(1)
    }
}

impl Drop for RootGather {
    fn drop(&mut self) {
        // Dropped before every engine joined (the job is being torn down after a failure): do
        // not wait for engines that may never answer; leak the buffers MPI may still write.
        if let Some(pending) = self.pending.take()
            && !pending.is_done()
        {
            pending.abandon();
            std::mem::forget(std::mem::take(&mut self.slots));
            std::mem::forget(std::mem::take(&mut self.mine));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_carry_small_requests_and_announce_large_ones() {
        let (h, body) = header_for(vec![7; 10]);
        assert_eq!(h.len(), HEADER);
        assert!(body.is_none());
        assert_eq!(read_header(&h).unwrap(), Header::Inline(&[7; 10]));
        let (h, body) = header_for(vec![1; HEADER - 5]);
        assert!(body.is_none());
        assert_eq!(read_header(&h).unwrap(), Header::Inline(&[1; HEADER - 5]));
        let (h, body) = header_for(vec![2; HEADER]);
        assert_eq!(body.as_deref(), Some(&[2u8; HEADER][..]));
        assert_eq!(read_header(&h).unwrap(), Header::Large(HEADER));
        let mut closed = vec![0; HEADER];
        closed[0] = CLOSE;
        assert_eq!(read_header(&closed).unwrap(), Header::Close);
        assert!(read_header(&[0; HEADER]).is_err());
        let mut bad = h.clone();
        bad[0] = INLINE;
        bad[1..5].copy_from_slice(&(HEADER as u32).to_le_bytes());
        assert!(read_header(&bad).is_err());
    }
}
