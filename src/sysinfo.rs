//! Facts about this machine that requests are checked against: the memory a result may take.
//!
//! Any rank may call these; they read `/proc` and the environment, nothing of MPI.

/// Memory available for new allocations, in bytes: what the kernel says (`MemAvailable` in
/// `/proc/meminfo`), lowered to what this process's memory cgroup and its ancestors still allow
/// (a Slurm job's `--mem`, a container's limit; v1 and v2, reclaimable page cache counted
/// free); `None` where neither is known.
///
/// ```
/// if let Some(bytes) = mpiview::sysinfo::available_memory() {
///     assert!(bytes > 0);
/// }
/// ```
pub fn available_memory() -> Option<u64> {
    let machine = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| parse_mem_available(&m));
    match (machine, crate::cgroup::headroom()) {
        (Some(m), Some(c)) => Some(m.min(c)),
        (m, c) => m.or(c),
    }
}

/// Memory a result on the controller may take: [`available_memory`], lowered by
/// `MPIVIEW_MEMORY_LIMIT` (a size: `5e7`, `50MB`, `2GiB`) where that is set. Gathers check their
/// result against it before any data moves; apps check their outputs against it up front.
pub fn memory_for_results() -> Option<u64> {
    let limit = crate::settings::get().memory_limit;
    match (available_memory(), limit) {
        (Some(a), Some(l)) => Some(a.min(l)),
        (a, l) => a.or(l),
    }
}

fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Number of CPUs this process may run on.
pub(crate) fn cpus_allowed() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The CPUs this process may run on, as a bit mask of 1024 bits.
pub(crate) fn affinity_mask() -> [u64; 16] {
    let mut mask = [0u64; 16];
    #[cfg(target_os = "linux")]
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills at most its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            for cpu in 0..1024usize {
                if libc::CPU_ISSET(cpu, &set) {
                    mask[cpu / 64] |= 1 << (cpu % 64);
                }
            }
            return mask;
        }
    }
    for cpu in 0..cpus_allowed().min(1024) {
        mask[cpu / 64] |= 1 << (cpu % 64);
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_available() {
        let text = "MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(parse_mem_available(text), Some(20_000_000 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 1 kB\n"), None);
        assert!(affinity_mask().iter().any(|&w| w != 0));
    }
}
