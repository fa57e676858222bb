//! Bad input and faults, for every app: every flag with a wrong value gets one message from
//! rank 0, the documented exit code on every rank, and changes no file (at 1 rank, and a subset
//! at 3 ranks); outputs that are symbolic links, FIFOs, device nodes, the same file twice, a
//! full file system, and an interrupt while writing.
//!
//! Every case runs in a fresh temporary directory holding old output files; the directory's
//! listing and contents are compared before and after.

#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Run, launch_in};

const TRAPZ: &str = env!("CARGO_BIN_EXE_trapz");
const NORMSTATS: &str = env!("CARGO_BIN_EXE_normstats");
const MAXNORMAL: &str = env!("CARGO_BIN_EXE_maxnormal");
const JULIA: &str = env!("CARGO_BIN_EXE_julia");

/// Every fault test ends within this.
const FAULT_DEADLINE: Duration = Duration::from_secs(10);

/// A line every successful run of the app prints: absent, no work was done.
fn work_marker(app: &str) -> &'static str {
    match app {
        TRAPZ => "integral  =",
        NORMSTATS => "means =",
        MAXNORMAL => "KS distance",
        JULIA => "never escaped",
        _ => unreachable!(),
    }
}

fn name(app: &str) -> &str {
    Path::new(app).file_name().unwrap().to_str().unwrap()
}

/// One wrong command line: the exit code and a message that must appear exactly once.
struct Case {
    app: &'static str,
    args: &'static [&'static str],
    code: i32,
    message: &'static str,
    env: &'static [(&'static str, &'static str)],
}

const fn case(
    app: &'static str,
    args: &'static [&'static str],
    code: i32,
    message: &'static str,
) -> Case {
    Case {
        app,
        args,
        code,
        message,
        env: &[],
    }
}

/// Every flag of every app with a wrong value (and the non-finite results of trapz, exit 3).
const CASES: &[Case] = &[
    // trapz
    case(TRAPZ, &["--function", "tan"], 2, "unknown function 'tan'"),
    case(TRAPZ, &["--expr", "x +* 2"], 2, "cannot parse expression"),
    case(
        TRAPZ,
        &["--function", "sin", "--expr", "x"],
        2,
        "cannot be used with",
    ),
    case(TRAPZ, &["-a", "inf"], 2, "`inf` is not a finite number"),
    case(TRAPZ, &["-b", "one"], 2, "`one` is not a number"),
    case(
        TRAPZ,
        &["--n", "-5"],
        2,
        "`-5` is negative: counts are positive",
    ),
    case(TRAPZ, &["--n", "1"], 2, "need at least 2 points"),
    case(TRAPZ, &["--repeat", "0"], 2, "must be at least 1"),
    case(
        TRAPZ,
        &["--serial=yes"],
        2,
        "unexpected value 'yes' for '--serial'",
    ),
    case(
        TRAPZ,
        &["--json=yes"],
        2,
        "unexpected value 'yes' for '--json'",
    ),
    case(TRAPZ, &["--bogus"], 2, "unexpected argument '--bogus'"),
    case(
        TRAPZ,
        &["--expr", "1/x", "-a", "0", "-b", "1"],
        3,
        "the integrand 1/x is not finite at x = 0 (grid point 0 of 100000000): f(x) = inf",
    ),
    case(
        TRAPZ,
        &["--expr", "ln(x)", "-a", "0", "-b", "1"],
        3,
        "is not finite at x = 0 (grid point 0 of 100000000): f(x) = -inf",
    ),
    case(
        TRAPZ,
        &["--expr", "sqrt(x)", "-a", "-1", "-b", "1"],
        3,
        "is not finite at x = -1 (grid point 0 of 100000000): f(x) = NaN",
    ),
    case(
        TRAPZ,
        &["--expr", "exp(x)", "-a", "0", "-b", "1000", "--n", "1e6"],
        3,
        "the integrand exp(x) is not finite at x = 709.7",
    ),
    case(
        TRAPZ,
        &["--function", "exp", "-a", "0", "-b", "1000", "--n", "1e6"],
        3,
        "the integrand exp is not finite at x = 709.7",
    ),
    case(
        TRAPZ,
        &["--function", "exp", "-a", "0", "-b", "709", "--n", "1e6"],
        3,
        "the integral of exp over [0, 709] overflows: the integrand is finite at every grid point",
    ),
    case(
        TRAPZ,
        &["-a", "-1e308", "-b", "1e308"],
        3,
        "the interval's width b − a = 1e308 − (-1e308) overflows",
    ),
    // normstats
    case(NORMSTATS, &["--n", "0"], 2, "must be at least 1"),
    case(NORMSTATS, &["--n", "-5"], 2, "counts are positive"),
    case(
        NORMSTATS,
        &["--seed", "-1"],
        2,
        "seeds are whole numbers from 0 up",
    ),
    case(
        NORMSTATS,
        &["--seed", "1.5"],
        2,
        "`1.5` is not a whole number",
    ),
    case(
        NORMSTATS,
        &["--compare=yes"],
        2,
        "unexpected value 'yes' for '--compare'",
    ),
    case(NORMSTATS, &["--sizes", "1e4,-5"], 2, "counts are positive"),
    case(NORMSTATS, &["--sizes", "1e4,x"], 2, "`x` is not a number"),
    case(
        NORMSTATS,
        &["--json=1"],
        2,
        "unexpected value '1' for '--json'",
    ),
    // maxnormal
    case(MAXNORMAL, &["--n", "0"], 2, "must be at least 1"),
    case(MAXNORMAL, &["--n", "5e9"], 2, "--n 5000000000 is too large"),
    case(MAXNORMAL, &["--draws", "-5"], 2, "counts are positive"),
    case(
        MAXNORMAL,
        &["--draws", "1e15"],
        2,
        "1000000000000000 draws needs",
    ),
    case(MAXNORMAL, &["--seed", "x"], 2, "`x` is not a number"),
    case(
        MAXNORMAL,
        &["--bins", "1e12"],
        2,
        "`1e12` bins is too many: at most 1000000",
    ),
    case(MAXNORMAL, &["--bins", "0"], 2, "must be at least 1"),
    Case {
        app: MAXNORMAL,
        args: &["--bins", "1e6"],
        code: 2,
        message: "--bins 1000000 on 1 engine(s) needs",
        env: &[("MPIVIEW_MEMORY_LIMIT", "10MB")],
    },
    case(
        MAXNORMAL,
        &["--out", "no/such/dir/m.h5"],
        2,
        "directory no/such/dir does not exist",
    ),
    case(
        MAXNORMAL,
        &["--out", "sub"],
        2,
        "--out: output sub is a directory",
    ),
    case(
        MAXNORMAL,
        &["--png", "sub/"],
        2,
        "--png: output sub/ is a directory",
    ),
    case(
        MAXNORMAL,
        &["--png", ""],
        2,
        "a value is required for '--png <PNG>'",
    ),
    case(
        MAXNORMAL,
        &["--png", "pipe"],
        2,
        "--png: output pipe is a FIFO (named pipe), not a regular file: refusing to replace it",
    ),
    case(
        MAXNORMAL,
        &["--out", "maxnormal.png"],
        2,
        "--out and --png name the same file",
    ),
    case(
        MAXNORMAL,
        &["--no-output=yes"],
        2,
        "unexpected value 'yes' for '--no-output'",
    ),
    case(
        MAXNORMAL,
        &["--json=yes"],
        2,
        "unexpected value 'yes' for '--json'",
    ),
    // julia
    case(JULIA, &["--m", "0"], 2, "must be at least 1"),
    case(JULIA, &["--n", "-5"], 2, "counts are positive"),
    case(
        JULIA,
        &["--m", "1e6", "--n", "1e6"],
        2,
        "a 1000000×1000000 grid needs",
    ),
    case(JULIA, &["--c", "1+2"], 2, "`1+2` is not a complex number"),
    case(JULIA, &["--zmin", "x"], 2, "`x` is not a complex number"),
    case(JULIA, &["--zmax", "1+"], 2, "`1+` is not a complex number"),
    case(
        JULIA,
        &["--zmin", "1+1i", "--zmax", "1+1i"],
        2,
        "--zmin 1+1i and --zmax 1+1i span no area",
    ),
    case(
        JULIA,
        &["--zmin", "-1e308-1i", "--zmax", "1e308+1i"],
        2,
        "are too far apart",
    ),
    case(JULIA, &["--tmax", "70000"], 2, "--tmax 70000 is over 65535"),
    case(
        JULIA,
        &["--schedule", "random"],
        2,
        "invalid value 'random' for '--schedule",
    ),
    case(JULIA, &["--rows-per-task", "0"], 2, "must be at least 1"),
    case(
        JULIA,
        &["--check=yes"],
        2,
        "unexpected value 'yes' for '--check'",
    ),
    case(JULIA, &["--repeat", "-1"], 2, "counts are positive"),
    case(
        JULIA,
        &["--out", "sub"],
        2,
        "--out: output sub is a directory",
    ),
    case(
        JULIA,
        &["--png", "no/j.png"],
        2,
        "--png: cannot write no/j.png: directory no does not exist",
    ),
    case(
        JULIA,
        &["--out", "to-pipe.h5"],
        2,
        "--out: output to-pipe.h5 (a link to ./pipe) is a FIFO (named pipe)",
    ),
    case(
        JULIA,
        &["--out", "x", "--png", "./x"],
        2,
        "--out and --png name the same file",
    ),
    case(
        JULIA,
        &["--no-output=1"],
        2,
        "unexpected value '1' for '--no-output'",
    ),
    case(JULIA, &["--json=1"], 2, "unexpected value '1' for '--json'"),
];

/// What a directory holds, recursively: file contents, link targets, special files' kinds.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            // A file may vanish while a run goes on (its probes and temporaries).
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let t = meta.file_type();
            let what = if t.is_dir() {
                stack.push(path.clone());
                b"directory".to_vec()
            } else if t.is_symlink() {
                let mut v = b"link to ".to_vec();
                v.extend(std::fs::read_link(&path).unwrap().as_os_str().as_bytes());
                v
            } else if t.is_file() {
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                bytes
            } else {
                format!("special {:o} {}", meta.mode(), meta.rdev()).into_bytes()
            };
            all.insert(path.strip_prefix(dir).unwrap().to_path_buf(), what);
        }
    }
    all
}

/// Asserts that two snapshots are equal, naming the entries that differ (not their bytes).
#[track_caller]
fn assert_same(
    after: &BTreeMap<PathBuf, Vec<u8>>,
    before: &BTreeMap<PathBuf, Vec<u8>>,
    what: &str,
) {
    if let Err(e) = same(after, before) {
        panic!("{what}: {e}");
    }
}

/// `Err` naming the entries that differ between two snapshots (not their bytes).
fn same(
    after: &BTreeMap<PathBuf, Vec<u8>>,
    before: &BTreeMap<PathBuf, Vec<u8>>,
) -> Result<(), String> {
    let keys: std::collections::BTreeSet<&PathBuf> = before.keys().chain(after.keys()).collect();
    let differ: Vec<String> = keys
        .into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| {
            let size = |s: &BTreeMap<PathBuf, Vec<u8>>| s.get(k).map(Vec::len);
            format!(
                "{} ({:?} bytes before, {:?} after)",
                k.display(),
                size(before),
                size(after)
            )
        })
        .collect();
    if differ.is_empty() {
        Ok(())
    } else {
        Err(format!("changed: {differ:?}"))
    }
}

/// A directory with old outputs in it (the apps' default names), a subdirectory, a FIFO and a
/// link to it. Special files are made here, never taken from /dev: a regression would replace
/// the system's /dev/null.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in ["maxnormal.h5", "maxnormal.png", "julia.h5", "julia.png"] {
        std::fs::write(dir.path().join(file), format!("old {file}")).unwrap();
    }
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/keep"), "kept").unwrap();
    mkfifo(&dir.path().join("pipe"));
    std::os::unix::fs::symlink("pipe", dir.path().join("to-pipe.h5")).unwrap();
    dir
}

fn launch_case(np: usize, dir: &Path, app: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    launch_in(Some(dir), np, Path::new(app), args, &env, common::DEADLINE)
}

/// Runs one case at `np` ranks and checks the code, the message, and that nothing changed.
/// Runs one case at `np` ranks: `Err` says what is wrong (code, message, work done, files).
fn check(np: usize, c: &Case) -> Result<(), String> {
    let dir = workspace();
    let before = snapshot(dir.path());
    let r = launch_case(np, dir.path(), c.app, c.args, c.env);
    let all = format!("{}{}", r.stdout, r.stderr);
    let mut wrong = Vec::new();
    if r.code != Some(c.code) {
        wrong.push(format!("exit code {:?}, not {}", r.code, c.code));
    }
    if all.matches(c.message).count() != 1 {
        wrong.push(format!("the message {:?} not exactly once", c.message));
    }
    if all.matches("error: ").count() != 1 {
        wrong.push("not exactly one error (from rank 0)".into());
    }
    if r.stdout.contains(work_marker(c.app)) {
        wrong.push("a result was reported".into());
    }
    if let Err(e) = same(&snapshot(dir.path()), &before) {
        wrong.push(e);
    }
    if wrong.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} {:?} on {np} rank(s): {}\n--- stdout\n{}--- stderr\n{}",
        name(c.app),
        c.args,
        wrong.join("; "),
        r.stdout,
        r.stderr
    ))
}

/// Runs cases at `np` ranks; fails listing every case that went wrong.
fn check_all<'a>(np: usize, cases: impl IntoIterator<Item = &'a Case>) -> usize {
    let t = Instant::now();
    let mut n = 0;
    let failures: Vec<String> = cases
        .into_iter()
        .inspect(|_| n += 1)
        .filter_map(|c| check(np, c).err())
        .collect();
    println!("{n} cases at {np} rank(s) in {:.1?}", t.elapsed());
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
    n
}

#[test]
fn every_flag_with_a_wrong_value_at_one_rank() {
    check_all(1, CASES);
}

#[test]
fn a_subset_at_three_ranks() {
    // One or two of each kind, every app.
    let picked = [
        "`-5` is negative: counts are positive",
        "unexpected value 'yes' for '--serial'",
        "the integrand 1/x is not finite",
        "the integrand exp(x) is not finite",
        "`1e12` bins is too many",
        "--png: output pipe is a FIFO",
        "--out and --png name the same file",
        "--zmin 1+1i and --zmax 1+1i span no area",
        "--png: cannot write no/j.png: directory no does not exist",
    ];
    let n = check_all(
        3,
        CASES
            .iter()
            .filter(|c| picked.iter().any(|p| c.message.starts_with(p))),
    );
    assert!(n > picked.len(), "every picked case ran");
}

#[test]
fn help_documents_the_exit_codes() {
    let dir = workspace();
    for app in [TRAPZ, NORMSTATS, MAXNORMAL, JULIA] {
        let r = launch_case(1, dir.path(), app, &["--help"], &[]);
        r.assert_success();
        assert!(
            r.stdout.contains("Exit codes: 0 success; 2 bad input"),
            "{}",
            r.stdout
        );
    }
    let r = launch_case(1, dir.path(), TRAPZ, &["--help"], &[]);
    assert!(
        r.stdout.contains("3 the integral is not a finite"),
        "{}",
        r.stdout
    );
}

// ---- faults ----

/// Runs `app args` in `dir` at one rank with the fault deadline.
fn run_in(dir: &Path, app: &str, args: &[&str]) -> Run {
    let r = launch_in(Some(dir), 1, Path::new(app), args, &[], FAULT_DEADLINE);
    assert!(r.elapsed < FAULT_DEADLINE);
    r
}

/// Asserts exit code 2 and `message` exactly once.
#[track_caller]
fn assert_refused(r: &Run, message: &str) {
    r.assert_code(2);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert_eq!(
        all.matches(message).count(),
        1,
        "{message:?} once in:\n{all}"
    );
}

/// Names in `dir` (and below) that look like temporaries: hidden files.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir)
        .into_keys()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect()
}

const SMALL_JULIA: &[&str] = &["--m", "24", "--n", "32", "--tmax", "50"];

fn with(base: &[&'static str], more: &[&'static str]) -> Vec<&'static str> {
    base.iter().chain(more).copied().collect()
}

#[test]
fn outputs_through_symbolic_links_write_the_targets_and_keep_the_links() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("real")).unwrap();
    std::fs::write(d.join("real/old.h5"), "old").unwrap();
    std::os::unix::fs::symlink("real/old.h5", d.join("link.h5")).unwrap();
    // A dangling link: its target is created.
    std::os::unix::fs::symlink("real/new.png", d.join("link.png")).unwrap();
    let r = run_in(
        d,
        JULIA,
        &with(SMALL_JULIA, &["--out", "link.h5", "--png", "link.png"]),
    );
    r.assert_success();
    assert!(
        r.stdout.contains("wrote link.h5 and link.png"),
        "{}",
        r.stdout
    );
    for (link, target) in [("link.h5", "real/old.h5"), ("link.png", "real/new.png")] {
        let meta = std::fs::symlink_metadata(d.join(link)).unwrap();
        assert!(meta.file_type().is_symlink(), "{link} is still a link");
        assert_eq!(std::fs::read_link(d.join(link)).unwrap(), Path::new(target));
        assert!(std::fs::symlink_metadata(d.join(target)).unwrap().is_file());
    }
    let f = hdf5::File::open(d.join("real/old.h5")).unwrap();
    assert_eq!(f.dataset("counts").unwrap().shape(), vec![24, 32]);
    let png = std::fs::read(d.join("real/new.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(temporaries(d), Vec::<PathBuf>::new());
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

#[test]
fn a_fifo_is_refused_without_blocking_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    mkfifo(&d.join("out.h5"));
    mkfifo(&d.join("out.png"));
    let before = snapshot(d);
    let r = run_in(d, JULIA, &with(SMALL_JULIA, &["--out", "out.h5"]));
    assert_refused(
        &r,
        "--out: output out.h5 is a FIFO (named pipe), not a regular file: refusing to replace it",
    );
    let r = run_in(d, MAXNORMAL, &["--draws", "1000", "--png", "out.png"]);
    assert_refused(&r, "--png: output out.png is a FIFO (named pipe)");
    assert_same(&snapshot(d), &before, "FIFOs");
    assert!(
        std::fs::symlink_metadata(d.join("out.h5"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

/// `mknod path c 1 3` (a copy of /dev/null); why not, if it cannot be made here.
fn mknod_null(path: &Path) -> Result<(), String> {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mknod with a valid NUL-terminated path; makedev has no preconditions.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "mknod failed ({}): creating device nodes needs root (CAP_MKNOD)",
            std::io::Error::last_os_error()
        ))
    }
}

#[test]
fn a_device_node_is_refused_and_stays_a_device() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    if let Err(why) = mknod_null(&d.join("null")) {
        println!("SKIPPED a_device_node_is_refused_and_stays_a_device: {why}");
        return;
    }
    std::os::unix::fs::symlink("null", d.join("to-null.h5")).unwrap();
    let before = snapshot(d);
    let r = run_in(d, JULIA, &with(SMALL_JULIA, &["--png", "null"]));
    assert_refused(
        &r,
        "--png: output null is a character device, not a regular file",
    );
    let r = run_in(d, MAXNORMAL, &["--draws", "1000", "--out", "to-null.h5"]);
    assert_refused(
        &r,
        "--out: output to-null.h5 (a link to ./null) is a character device",
    );
    assert_same(&snapshot(d), &before, "device node");
    let meta = std::fs::symlink_metadata(d.join("null")).unwrap();
    assert!(
        meta.file_type().is_char_device(),
        "still a character device"
    );
    assert_eq!(meta.rdev(), libc::makedev(1, 3));
}

#[test]
fn the_same_file_twice_is_refused() {
    let dir = workspace();
    let d = dir.path();
    std::os::unix::fs::symlink("x.h5", d.join("link.h5")).unwrap();
    std::fs::write(d.join("x.h5"), "old").unwrap();
    let before = snapshot(d);
    for (app, args) in [
        (
            JULIA,
            with(SMALL_JULIA, &["--out", "x.h5", "--png", "./x.h5"]),
        ),
        (
            JULIA,
            with(SMALL_JULIA, &["--out", "x.h5", "--png", "link.h5"]),
        ),
        (
            JULIA,
            with(SMALL_JULIA, &["--out", "sub/../x.h5", "--png", "x.h5"]),
        ),
        (
            MAXNORMAL,
            vec!["--draws", "1000", "--out", "link.h5", "--png", "x.h5"],
        ),
    ] {
        let r = run_in(d, app, &args);
        assert_refused(&r, "--out and --png name the same file");
        assert!(
            r.stderr.contains("x.h5: give them different paths"),
            "{}",
            r.stderr
        );
    }
    assert_same(&snapshot(d), &before, "the same file twice");
}

/// A tmpfs mounted for a test and always unmounted again.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` bytes; why not, if it cannot be mounted here.
    fn mount(size: u64) -> Result<Tmpfs, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("mounting a tmpfs needs root".into());
        }
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("could not unmount {}", self.dir.path().display());
        }
    }
}

/// Bytes a tmpfs charges for a file of `len` bytes (whole pages).
fn pages(len: u64) -> u64 {
    len.div_ceil(4096) * 4096
}

#[test]
fn a_full_disk_leaves_no_file_no_temporary_and_the_old_files() {
    let fs = match Tmpfs::mount(64 * 1024) {
        Ok(fs) => fs,
        Err(why) => {
            println!("SKIPPED a_full_disk_leaves_no_file_no_temporary_and_the_old_files: {why}");
            return;
        }
    };
    let d = fs.path();
    std::fs::write(d.join("j.h5"), "old h5").unwrap();
    std::fs::write(d.join("j.png"), "old png").unwrap();
    // The HDF5 file alone (256 × 256 counts, 128 kB) does not fit: written by the controller
    // (--serial-io), by one engine, and by four engines together (parallel HDF5), every write
    // fails and every rank ends.
    let before = snapshot(d);
    let julia = [
        "--m", "256", "--n", "256", "--tmax", "20", "--out", "j.h5", "--png", "j.png",
    ];
    for (np, serial) in [(1, true), (1, false), (5, false)] {
        let mut args = julia.to_vec();
        if serial {
            args.push("--serial-io");
        }
        let r = launch_in(Some(d), np, Path::new(JULIA), &args, &[], FAULT_DEADLINE);
        assert!(r.elapsed < FAULT_DEADLINE);
        r.assert_code(1);
        assert_eq!(
            r.stderr.matches("error: writing j.h5").count(),
            1,
            "{np} rank(s): {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("No space left on device"),
            "{np} rank(s): {}",
            r.stderr
        );
        assert_same(&snapshot(d), &before, "HDF5 file too large");
    }

    // The HDF5 file fits, the picture after it does not: neither replaces its old file. The
    // sizes come from the same run on a roomy disk; a filler leaves room for the HDF5 file only.
    let args = [
        "--draws", "2000", "--seed", "3", "--out", "m.h5", "--png", "m.png",
    ];
    let roomy = tempfile::tempdir().unwrap();
    run_in(roomy.path(), MAXNORMAL, &args).assert_success();
    let size = |f: &str| std::fs::metadata(roomy.path().join(f)).unwrap().len();
    let (h5, png) = (pages(size("m.h5")), pages(size("m.png")));
    assert!(
        png > 4096,
        "the picture needs more than the slack of one page"
    );
    std::fs::write(d.join("m.h5"), "old m.h5").unwrap();
    std::fs::write(d.join("m.png"), "old m.png").unwrap();
    let used: u64 = snapshot(d).values().map(|v| pages(v.len() as u64)).sum();
    let filler = (64 * 1024u64)
        .checked_sub(used + h5 + 4096)
        .expect("the HDF5 file fits in 64 kB");
    std::fs::write(d.join("filler"), vec![0u8; filler as usize]).unwrap();
    let before = snapshot(d);
    let r = run_in(d, MAXNORMAL, &args);
    r.assert_code(1);
    assert_eq!(
        r.stderr.matches("error: writing m.png").count(),
        1,
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("No space left on device"), "{}", r.stderr);
    assert_same(&snapshot(d), &before, "picture too large");
}

/// Starts `app args` in `dir` on `np` ranks without waiting (its own process group).
/// Starts `app` in `dir` on `np` ranks; its stderr goes to `stderr`.
fn spawn_in(
    dir: &Path,
    np: usize,
    app: &str,
    args: &[&str],
    stderr: std::fs::File,
) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let mut cmd = if np == 1 {
        Command::new(app)
    } else {
        let mut c = Command::new("mpiexec");
        c.arg("-n").arg(np.to_string()).arg(app);
        c
    };
    common::mpi_env(&mut cmd);
    cmd.current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .unwrap()
}

/// The pid of rank 0 of the job whose launcher is `launcher` (one of its children), or of the
/// launcher itself for a one-rank run.
fn rank0(launcher: u32, np: usize) -> Option<i32> {
    if np == 1 {
        return Some(launcher as i32);
    }
    for entry in std::fs::read_dir("/proc").ok()? {
        let Ok(pid) = entry.ok()?.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // The launcher's children: field 4 of /proc/PID/stat (after the parenthesised name).
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let parent = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if parent != Some(launcher) {
            continue;
        }
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let is_rank0 = env
            .split(|&b| b == 0)
            .any(|v| v == b"OMPI_COMM_WORLD_RANK=0" || v == b"PMIX_RANK=0");
        if is_rank0 {
            return Some(pid);
        }
    }
    None
}

/// Who gets the signal.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    /// Rank 0 itself, as Slurm signals every task (and as Ctrl-C does at one rank).
    Rank0,
    /// The `mpiexec` launcher, as Ctrl-C in a terminal does.
    Launcher,
}

/// Interrupts a julia run with SIGINT as soon as its first temporary output file appears. The
/// job must end within the deadline and leave no temporary; the old files stay (or, if the
/// signal reached rank 0 only after it had finished writing, both files are new). Through
/// mpiexec, whose SIGKILL follows its SIGTERM closely, a temporary left behind is reported, not
/// failed.
fn interrupt_while_writing(np: usize, target: Target) {
    let _lock = common::LaunchLock::acquire();
    let dir = workspace();
    let d = dir.path();
    let before = snapshot(d);
    // Few iterations: quick to compute, long enough to write. mpiexec passes Ctrl-C on as
    // SIGTERM a second later (then SIGKILL): a larger grid keeps rank 0 writing until then
    // (a 72 MB HDF5 file, a 108 MB picture to compress).
    let side = match target {
        Target::Rank0 => "4096",
        Target::Launcher => "6000",
    };
    let args = [
        "--m",
        side,
        "--n",
        side,
        "--tmax",
        "40",
        "--schedule",
        "balanced",
    ];
    // The job's stderr, outside the directory whose files are compared.
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = spawn_in(d, np, JULIA, &args, log.reopen().unwrap());
    let start = Instant::now();
    // Names only: reading a growing 32 MB file every millisecond would slow the run down.
    let writing = || {
        std::fs::read_dir(d).unwrap().any(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.starts_with('.') && name.ends_with(".tmp")
        })
    };
    let mut signalled = None;
    while start.elapsed() < FAULT_DEADLINE && child.try_wait().unwrap().is_none() {
        if writing() {
            let pid = match target {
                Target::Rank0 => rank0(child.id(), np).expect("rank 0's process"),
                Target::Launcher => child.id() as i32,
            };
            // SAFETY: signalling a process of our own child's job.
            unsafe { libc::kill(pid, libc::SIGINT) };
            signalled = Some(pid);
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > FAULT_DEADLINE {
            // SAFETY: killing our own child's process group.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            panic!("julia on {np} rank(s) did not end within {FAULT_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Stray ranks must not outlive the job.
    // SAFETY: killing our own child's process group (it may be gone already).
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    assert!(
        signalled.is_some(),
        "no temporary file appeared: the run ended ({status:?}) or took too long"
    );
    assert!(!status.success(), "{status:?}");
    if np == 1 {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(libc::SIGINT),
            "ended by the signal: {status:?}"
        );
    }
    // The handlers chain (temporaries, then mpiview's last words, then the default action):
    // no rank may end by anything but the signal it was sent.
    let stderr = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        !["SIGSEGV", "signal 11", "panicked"]
            .iter()
            .any(|bad| stderr.contains(bad)),
        "a rank crashed while handling the interrupt:\n{stderr}"
    );
    let left = temporaries(d);
    if target == Target::Launcher && !left.is_empty() {
        // mpiexec sends SIGKILL about 10 ms after its SIGTERM; on a loaded machine rank 0's
        // handler may not have run by then. Best effort only: see the `cleanup` module docs.
        println!("NOTE: SIGKILL came before rank 0's handler had run; left {left:?} (removed)");
        for t in &left {
            std::fs::remove_file(d.join(t)).unwrap();
        }
    } else {
        assert_eq!(left, Vec::<PathBuf>::new(), "temporaries left");
    }
    let after = snapshot(d);
    let new = |f: &str| after.get(Path::new(f)) != before.get(Path::new(f));
    if target == Target::Launcher && new("julia.h5") && new("julia.png") {
        println!("rank 0 finished writing before mpiexec's SIGTERM: both files are new");
        let f = hdf5::File::open(d.join("julia.h5")).unwrap();
        assert_eq!(f.dataset("counts").unwrap().shape(), vec![6000, 6000]);
    } else {
        assert_same(&after, &before, "interrupted");
    }
    println!(
        "{np} rank(s), SIGINT to {target:?}: {status:?} after {:.2?}",
        start.elapsed()
    );
}

#[test]
fn an_interrupt_while_writing_leaves_no_temporary_at_one_rank() {
    interrupt_while_writing(1, Target::Rank0);
}

#[test]
fn an_interrupt_of_rank_0_while_writing_leaves_no_temporary_at_three_ranks() {
    interrupt_while_writing(3, Target::Rank0);
}

#[test]
fn an_interrupt_of_mpiexec_while_writing_leaves_no_temporary_at_three_ranks() {
    interrupt_while_writing(3, Target::Launcher);
}

/// A memory cgroup made for a test (v1, or v2 where its memory controller is enabled) and
/// always removed again.
struct MemCgroup {
    dir: PathBuf,
}

impl MemCgroup {
    /// A cgroup limited to `bytes`; why not, if none can be made here.
    fn create(bytes: u64) -> Result<MemCgroup, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("making a cgroup needs root".into());
        }
        let name = format!("mpiview-test-{}", std::process::id());
        let v2_enabled = std::fs::read_to_string("/sys/fs/cgroup/cgroup.subtree_control")
            .is_ok_and(|c| c.split_whitespace().any(|x| x == "memory"));
        let (dir, limit) = if Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
            (
                Path::new("/sys/fs/cgroup/memory").join(&name),
                "memory.limit_in_bytes",
            )
        } else if v2_enabled {
            (Path::new("/sys/fs/cgroup").join(&name), "memory.max")
        } else {
            return Err("no writable memory cgroup hierarchy".into());
        };
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let group = MemCgroup { dir };
        std::fs::write(group.dir.join(limit), bytes.to_string())
            .map_err(|e| format!("{limit}: {e}"))?;
        Ok(group)
    }

    /// Runs `mpiexec -n np program args` inside the group.
    fn launch(&self, np: usize, program: &str, args: &[&str]) -> Run {
        let procs = self.dir.join("cgroup.procs");
        let script = format!("echo $$ > '{}' && exec \"$@\"", procs.display());
        let launcher = std::env::var("MPIEXEC").unwrap_or_else(|_| "mpiexec".into());
        let np = np.to_string();
        let mut all = vec![
            "-c",
            script.as_str(),
            "sh",
            launcher.as_str(),
            "-n",
            &np,
            program,
        ];
        all.extend(args);
        launch_in(None, 1, Path::new("/bin/sh"), &all, &[], FAULT_DEADLINE)
    }
}

impl Drop for MemCgroup {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            eprintln!("could not remove {}: {e}", self.dir.display());
        }
    }
}

#[test]
fn a_job_larger_than_its_memory_cgroup_is_refused_up_front() {
    let group = match MemCgroup::create(256 << 20) {
        Ok(g) => g,
        Err(why) => {
            println!("SKIPPED a_job_larger_than_its_memory_cgroup_is_refused_up_front: {why}");
            return;
        }
    };
    // The block schedule holds the grid on the controller and on the engines: 3000² points at
    // 36 bytes is 324 MB, more than the group's 256 MiB though the machine has plenty.
    let grid = ["--m", "3000", "--n", "3000", "--no-output"];
    let mut args = grid.to_vec();
    args.extend(["--schedule", "block"]);
    let r = group.launch(3, JULIA, &args);
    assert!(r.elapsed < FAULT_DEADLINE);
    assert_refused(&r, "memory is available");
    assert!(!r.stdout.contains("points never escaped"), "no work");
    // The rows schedule keeps 2 bytes a point on the engines: it fits and runs.
    let mut args = grid.to_vec();
    args.extend(["--schedule", "rows"]);
    let r = group.launch(3, JULIA, &args);
    r.assert_success();
    assert!(r.stdout.contains("points never escaped"), "{}", r.stdout);
}
