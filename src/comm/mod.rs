//! MPI plumbing: polling waits, owned-buffer point-to-point messages, chunked collectives over
//! view communicators, and receive buffers. Nothing above this module calls MPI's C API.

pub(crate) mod alloc;
pub(crate) mod channel;
pub(crate) mod collective;
pub(crate) mod doorbell;
pub(crate) mod node;
pub(crate) mod p2p;
pub(crate) mod poll;
pub(crate) mod request;
pub(crate) mod view_comms;
