//! What a rank can tell about its own runtime, for tests and for looking into a job.
//!
//! Any rank may call these (an engine from inside a remote function, the controller from the
//! driver); each answers for the rank it runs on.

/// The world ranks this rank's doorbell may signal (the ranks of its shared-memory node that
/// can be rung), each with how many times this rank has signalled it so far. Empty when
/// doorbells are off (`MPIVIEW_DOORBELL=0`) or before [`Cluster::run`](crate::Cluster::run).
///
/// ```no_run
/// # fn demo(cluster: mpiview::Cluster) {
/// cluster.run(|client| {
///     for (rank, rings) in mpiview::diagnostics::doorbell_rings() {
///         println!("rang world rank {rank} {rings} times");
///     }
/// });
/// # }
/// ```
pub fn doorbell_rings() -> Vec<(i32, u64)> {
    crate::comm::doorbell::rings()
}

/// This machine's host name, as the kernel reports it (`gethostname`): in a UTS namespace, the
/// namespace's.
///
/// ```
/// assert!(!mpiview::diagnostics::host_name().is_empty());
/// ```
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer it is given.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
