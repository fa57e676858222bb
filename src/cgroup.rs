//! The memory a control group still lets this process's group use: a Slurm job's `--mem`, a
//! container's limit. `MemAvailable` counts the whole machine, and a job that fits the machine
//! but not its cgroup is killed by the kernel part-way (a `signal 9` from `mpirun`, nothing
//! else).
//!
//! Both hierarchies are read: cgroup v2 (`memory.max`, `memory.current`, `inactive_file` of
//! `memory.stat`) and v1 (`memory.limit_in_bytes`, `memory.usage_in_bytes`,
//! `total_inactive_file`). Every ancestor's limit applies, so the smallest headroom of the
//! group and its ancestors counts. Page cache that the kernel can drop (inactive file pages)
//! counts as free.

use std::path::{Path, PathBuf};

/// Limits at or above this are "no limit" (v1 writes `PAGE_COUNTER_MAX` pages as bytes).
const NO_LIMIT: u64 = 1 << 60;

/// Bytes this process's memory cgroup (and its ancestors) still allow; `None` when no limit
/// applies or none can be read.
pub(crate) fn headroom() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    headroom_in(Path::new("/sys/fs/cgroup"), &own, &|p| {
        std::fs::read_to_string(p).ok()
    })
}

/// [`headroom`] with the cgroup file system at `root`, `/proc/self/cgroup` as `own`, and
/// files read by `read`.
fn headroom_in(root: &Path, own: &str, read: &dyn Fn(&Path) -> Option<String>) -> Option<u64> {
    let mut best: Option<u64> = None;
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let path = path.trim_start_matches('/');
        let found = if controllers.is_empty() {
            // v2: the unified hierarchy (mounted at the root, or at `unified` beside v1).
            [root.to_path_buf(), root.join("unified")]
                .into_iter()
                .find_map(|base| walk(&base, path, read, &V2))
        } else if controllers.split(',').any(|c| c == "memory") {
            walk(&root.join("memory"), path, read, &V1)
        } else {
            None
        };
        best = match (best, found) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    best
}

/// The file names of one hierarchy.
struct Files {
    limit: &'static str,
    usage: &'static str,
    inactive: &'static str,
}

const V2: Files = Files {
    limit: "memory.max",
    usage: "memory.current",
    inactive: "inactive_file",
};

const V1: Files = Files {
    limit: "memory.limit_in_bytes",
    usage: "memory.usage_in_bytes",
    inactive: "total_inactive_file",
};

/// The smallest headroom of `path` and its ancestors under `base`. A container often sees its
/// own group as the root of the mount, so a path that is not there is tried from the mount's
/// root alone.
fn walk(base: &Path, path: &str, read: &dyn Fn(&Path) -> Option<String>, f: &Files) -> Option<u64> {
    let mut dir: PathBuf = base.join(path);
    if read(&dir.join(f.usage)).is_none() {
        dir = base.to_path_buf();
    }
    let mut best: Option<u64> = None;
    loop {
        if let Some(room) = room_in(&dir, read, f) {
            best = Some(best.map_or(room, |b| b.min(room)));
        }
        if dir == base || !dir.pop() || !dir.starts_with(base) {
            return best;
        }
    }
}

/// Headroom of one group: its limit less what it uses, page cache it can drop counted free.
fn room_in(dir: &Path, read: &dyn Fn(&Path) -> Option<String>, f: &Files) -> Option<u64> {
    let limit: u64 = read(&dir.join(f.limit))?.trim().parse().ok()?;
    if limit >= NO_LIMIT {
        return None;
    }
    let usage: u64 = read(&dir.join(f.usage))?.trim().parse().ok()?;
    let inactive = read(&dir.join("memory.stat"))
        .and_then(|stat| {
            stat.lines().find_map(|l| {
                let (key, value) = l.split_once(' ')?;
                (key == f.inactive).then(|| value.trim().parse::<u64>().ok())?
            })
        })
        .unwrap_or(0);
    Some(limit.saturating_sub(usage.saturating_sub(inactive)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn fs(files: &[(&str, &str)]) -> impl Fn(&Path) -> Option<String> {
        let map: HashMap<PathBuf, String> = files
            .iter()
            .map(|(p, c)| (PathBuf::from(p), c.to_string()))
            .collect();
        move |p: &Path| map.get(p).cloned()
    }

    #[test]
    fn v2_takes_the_tightest_ancestor_and_counts_cache_as_free() {
        let read = fs(&[
            ("/cg/job/step/memory.max", "max\n"),
            ("/cg/job/step/memory.current", "100\n"),
            ("/cg/job/memory.max", "1000\n"),
            ("/cg/job/memory.current", "600\n"),
            (
                "/cg/job/memory.stat",
                "anon 400\ninactive_file 150\nactive_file 50\n",
            ),
        ]);
        // The job: 1000 − (600 − 150) = 550; the step has no limit of its own.
        assert_eq!(
            headroom_in(Path::new("/cg"), "0::/job/step\n", &read),
            Some(550)
        );
    }

    #[test]
    fn v1_reads_the_memory_controller_and_ignores_the_no_limit_value() {
        let read = fs(&[
            (
                "/cg/memory/slurm/job_7/memory.limit_in_bytes",
                "2147483648\n",
            ),
            (
                "/cg/memory/slurm/job_7/memory.usage_in_bytes",
                "1073741824\n",
            ),
            (
                "/cg/memory/slurm/memory.limit_in_bytes",
                "9223372036854771712\n",
            ),
            ("/cg/memory/slurm/memory.usage_in_bytes", "5\n"),
        ]);
        let own = "4:memory:/slurm/job_7\n3:cpu,cpuacct:/slurm/job_7\n0::/\n";
        assert_eq!(headroom_in(Path::new("/cg"), own, &read), Some(1 << 30));
    }

    #[test]
    fn a_container_sees_its_group_at_the_root_of_the_mount() {
        let read = fs(&[
            ("/cg/memory/memory.limit_in_bytes", "500\n"),
            ("/cg/memory/memory.usage_in_bytes", "200\n"),
        ]);
        let own = "4:memory:/docker/abc\n";
        assert_eq!(headroom_in(Path::new("/cg"), own, &read), Some(300));
    }

    #[test]
    fn no_limit_anywhere_is_none() {
        let read = fs(&[("/cg/memory.max", "max\n"), ("/cg/memory.current", "1\n")]);
        assert_eq!(headroom_in(Path::new("/cg"), "0::/\n", &read), None);
        assert_eq!(headroom_in(Path::new("/cg"), "", &read), None);
    }
}
