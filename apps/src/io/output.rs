//! Output paths: checked before the work, written under a temporary name, committed together.
//!
//! - [`check_outputs`] (or [`check_output_path`] for one path) runs before any heavy work: the
//!   path must name a regular file or nothing yet (a symbolic link is followed to the file it
//!   names; a directory, FIFO, device or socket is refused, never replaced), its directory must
//!   accept new files, and no two outputs of a run may name the same file;
//! - [`AtomicFile`] (and [`crate::io::hdf5::H5Writer`]) write a temporary file beside the file
//!   they replace; [`AtomicFile::stage`] finishes it and returns a [`Staged`] file;
//! - [`commit_all`] renames the staged files of a run into place only once all of them are
//!   complete, and puts the old files back if a later rename fails;
//! - a temporary is removed when its writer is dropped (errors, unwinding panics) and, through
//!   the handler of the `cleanup` module, when SIGINT or SIGTERM ends the process.

use std::collections::hash_map::RandomState;
use std::fs::{self, File, OpenOptions};
use std::hash::BuildHasher;
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::cleanup::{Registration, create_registered};

/// Why an output file could not be checked or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// An empty path.
    #[error("output path is empty")]
    EmptyPath,
    /// The path names an existing directory (or ends with `/`).
    #[error("output {path} is a directory")]
    IsDirectory {
        /// The output path.
        path: PathBuf,
    },
    /// The path names (or links to) something that is not a regular file: a FIFO, a device,
    /// a socket. It is never replaced.
    #[error("output {}{} is {kind}, not a regular file: refusing to replace it", .path.display(), link_note(.path, .target))]
    NotRegular {
        /// The output path.
        path: PathBuf,
        /// What the path leads to after following symbolic links.
        target: PathBuf,
        /// What it is ("a FIFO", "a character device", …).
        kind: &'static str,
    },
    /// Symbolic links that cannot be followed (a loop, or an unreadable link).
    #[error("output {path}: cannot follow its symbolic links: {message}")]
    Links {
        /// The output path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The directory to write into does not exist (or is not a directory).
    #[error("cannot write {path}: directory {dir} does not exist")]
    NoDirectory {
        /// The output path.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
    },
    /// The directory exists but a file cannot be created in it.
    #[error("cannot write {path}: directory {dir} is not writable: {source}")]
    NotWritable {
        /// The output path.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
        /// The error creating a file there.
        source: io::Error,
    },
    /// Two outputs of one run name the same file (directly, through `./`, or through links).
    #[error("{first} and {second} name the same file {}: give them different paths", .file.display())]
    SameFile {
        /// The first option (e.g. `--out`).
        first: String,
        /// The second option (e.g. `--png`).
        second: String,
        /// The file both lead to.
        file: PathBuf,
    },
    /// An error about the output given by a command-line option.
    #[error("{option}: {source}")]
    Option {
        /// The option, e.g. `--png`.
        option: String,
        /// The error.
        source: Box<OutputError>,
    },
    /// Writing or renaming failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The output path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Renaming one file of a set into place failed after others had been renamed, and not all
    /// of those could be put back: the files listed are new, the rest old.
    #[error("writing {path}: {source}; could not put back the old {}: it is already replaced", list(.replaced))]
    Partial {
        /// The output path whose rename failed.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
        /// Files of the set that stay replaced.
        replaced: Vec<PathBuf>,
    },
    /// The HDF5 library reported an error.
    #[error("writing {path}: HDF5: {message}")]
    Hdf5 {
        /// The output path.
        path: PathBuf,
        /// HDF5's message.
        message: String,
    },
    /// Drawing or encoding an image failed.
    #[error("writing {path}: {message}")]
    Image {
        /// The output path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

fn link_note(path: &Path, target: &Path) -> String {
    if path == target {
        String::new()
    } else {
        format!(" (a link to {})", target.display())
    }
}

fn list(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}

/// The directory a path's file lives in (`.` for a bare file name).
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Most symbolic links followed from one output path (Linux's own limit).
const MAX_LINKS: usize = 40;

/// What a file type is, in words, for a file that is not regular.
fn kind_of(t: &fs::FileType) -> &'static str {
    if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

/// The file that writing `path` replaces or creates: `path` itself, or, for a symbolic link,
/// the file the link (chain) leads to, which may not exist yet. Refuses directories and
/// anything that is not a regular file. Nothing is opened, so a FIFO cannot block.
///
/// ```
/// use mpiview_apps::io::output::resolve_output;
/// let dir = tempfile::tempdir().unwrap();
/// let real = dir.path().join("real.h5");
/// let link = dir.path().join("link.h5");
/// std::os::unix::fs::symlink("real.h5", &link).unwrap();
/// assert_eq!(resolve_output(&link).unwrap(), dir.path().join("real.h5"));
/// assert_eq!(resolve_output(&real).unwrap(), real);
/// // Nothing is written here: resolving only looks at the path.
/// let err = resolve_output(std::path::Path::new("/dev/null")).unwrap_err();
/// assert!(err.to_string().contains("is a character device"), "{err}");
/// ```
pub fn resolve_output(path: &Path) -> Result<PathBuf, OutputError> {
    if path.as_os_str().is_empty() {
        return Err(OutputError::EmptyPath);
    }
    if path.as_os_str().as_bytes().ends_with(b"/") {
        return Err(OutputError::IsDirectory { path: path.into() });
    }
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let meta = match fs::symlink_metadata(&current) {
            Ok(meta) => meta,
            // Nothing there yet (or a parent that is no directory: reported by the caller's
            // directory check): the file will be created.
            Err(_) => return Ok(current),
        };
        let t = meta.file_type();
        if t.is_symlink() {
            let link = fs::read_link(&current).map_err(|e| OutputError::Links {
                path: path.into(),
                message: format!("{}: {e}", current.display()),
            })?;
            current = directory_of(&current).join(link);
        } else if t.is_file() {
            return Ok(current);
        } else if t.is_dir() {
            return Err(OutputError::IsDirectory { path: path.into() });
        } else {
            return Err(OutputError::NotRegular {
                path: path.into(),
                target: current,
                kind: kind_of(&t),
            });
        }
    }
    Err(OutputError::Links {
        path: path.into(),
        message: format!("more than {MAX_LINKS} links (a loop?)"),
    })
}

/// Checks, before any heavy work, that `path` can be written: see [`resolve_output`]; its
/// directory must exist and accept new files (checked by creating and removing a temporary
/// file there). Returns the file that will be written (the link's target for a link).
///
/// ```
/// use mpiview_apps::io::output::check_output_path;
/// let dir = tempfile::tempdir().unwrap();
/// assert!(check_output_path(&dir.path().join("out.h5")).is_ok());
/// let err = check_output_path(&dir.path().join("missing/out.h5")).unwrap_err();
/// assert!(err.to_string().contains("does not exist"));
/// ```
pub fn check_output_path(path: &Path) -> Result<PathBuf, OutputError> {
    let dest = resolve_output(path)?;
    drop(TempGuard::create(path, &dest, ".check")?);
    Ok(dest)
}

/// Checks the output files of one run before any work: each as [`check_output_path`], errors
/// named by their option, and no two of them naming the same file (also through `./`, `..` or
/// symbolic links). Returns the files that will be written.
///
/// ```
/// use mpiview_apps::io::output::check_outputs;
/// let dir = tempfile::tempdir().unwrap();
/// let (h5, png) = (dir.path().join("a.h5"), dir.path().join("a.png"));
/// assert!(check_outputs(&[("--out", &h5), ("--png", &png)]).is_ok());
/// let again = dir.path().join(".").join("a.h5");
/// let err = check_outputs(&[("--out", &h5), ("--png", &again)]).unwrap_err();
/// assert!(err.to_string().starts_with("--out and --png name the same file"), "{err}");
/// let err = check_outputs(&[("--out", &h5), ("--png", dir.path())]).unwrap_err();
/// assert!(err.to_string().starts_with("--png: output") && err.to_string().ends_with("is a directory"));
/// ```
pub fn check_outputs(outputs: &[(&str, &Path)]) -> Result<Vec<PathBuf>, OutputError> {
    let mut seen: Vec<(&str, PathBuf)> = Vec::new();
    let mut dests = Vec::new();
    for &(option, path) in outputs {
        let dest = check_output_path(path).map_err(|e| OutputError::Option {
            option: option.into(),
            source: Box::new(e),
        })?;
        let id = identity(&dest);
        if let Some((first, _)) = seen.iter().find(|(_, other)| *other == id) {
            return Err(OutputError::SameFile {
                first: (*first).into(),
                second: option.into(),
                file: id,
            });
        }
        seen.push((option, id));
        dests.push(dest);
    }
    Ok(dests)
}

/// The absolute, canonical name of a file that need not exist (its directory exists).
fn identity(dest: &Path) -> PathBuf {
    let dir = directory_of(dest);
    let dir = fs::canonicalize(&dir).unwrap_or(dir);
    match dest.file_name() {
        Some(name) => dir.join(name),
        None => dir,
    }
}

/// Random enough to make temporary names unique between processes and calls.
fn unique_tag() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let r = RandomState::new().hash_one((std::process::id(), n, std::time::SystemTime::now()));
    format!("{}.{:010x}", std::process::id(), r & 0xff_ffff_ffff)
}

/// `.<name>.<pid>.<random><suffix>` beside `dest` (the name shortened to keep within 255 bytes).
fn temp_name(dest: &Path, suffix: &str) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut short = String::new();
    for c in name.chars() {
        if short.len() + c.len_utf8() > 160 {
            break;
        }
        short.push(c);
    }
    directory_of(dest).join(format!(".{short}.{}{suffix}", unique_tag()))
}

/// A temporary file (or a backup link) beside an output: removed when dropped, and by the
/// signal handler of the `cleanup` module if SIGINT or SIGTERM ends the process first, until
/// [`TempGuard::persist`] renames it into place.
#[derive(Debug)]
pub(crate) struct TempGuard {
    path: PathBuf,
    armed: bool,
    // Kept open so that removing the name is quick, also in the signal handler: the file's
    // blocks are freed when this closes (or when the process has ended), not by the `unlink`.
    // Open MPI's `mpirun` sends SIGKILL a few milliseconds after SIGTERM, and unlinking the
    // last name of a large file can take longer than that.
    _open: Option<File>,
    // Dropped after `drop` has removed the file: the handler covers it until then.
    _registration: Registration,
}

impl TempGuard {
    /// Creates a new, empty temporary file for `dest` (the resolved form of `path`, which
    /// errors name) in `dest`'s directory. The path is registered before the file exists.
    pub(crate) fn create(
        path: &Path,
        dest: &Path,
        suffix: &str,
    ) -> Result<(File, TempGuard), OutputError> {
        let dir = directory_of(dest);
        if !dir.is_dir() {
            return Err(OutputError::NoDirectory {
                path: path.into(),
                dir,
            });
        }
        let not_writable = |source| OutputError::NotWritable {
            path: path.into(),
            dir: dir.clone(),
            source,
        };
        // A file that replaces another keeps its permissions (a private 0600 result stays
        // private); a new one gets 0644 less the umask.
        let keep = fs::metadata(dest)
            .ok()
            .filter(fs::Metadata::is_file)
            .map(|m| m.permissions().mode() & 0o7777);
        loop {
            let temp = temp_name(dest, suffix);
            let open = |p: &Path| {
                let file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(keep.unwrap_or(0o644))
                    .open(p)?;
                if let Some(mode) = keep {
                    // The umask may have taken bits that the old file had.
                    file.set_permissions(fs::Permissions::from_mode(mode))?;
                }
                Ok(file)
            };
            match create_registered(&temp, open) {
                Ok((file, registration)) => {
                    let guard = TempGuard {
                        path: temp,
                        armed: true,
                        _open: file.try_clone().ok(),
                        _registration: registration,
                    };
                    return Ok((file, guard));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(not_writable(e)),
            }
        }
    }

    /// A hard link to the existing file `dest`, to put it back if a commit must be undone;
    /// `None` if `dest` does not exist or the file system has no hard links.
    fn backup(dest: &Path) -> Option<TempGuard> {
        if !fs::symlink_metadata(dest).is_ok_and(|m| m.is_file()) {
            return None;
        }
        let backup = temp_name(dest, ".old");
        let ((), registration) = create_registered(&backup, |p| fs::hard_link(dest, p)).ok()?;
        Some(TempGuard {
            _open: File::open(&backup).ok(),
            path: backup,
            armed: true,
            _registration: registration,
        })
    }

    /// The temporary file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file to `to`; from then on it is no longer removed.
    fn persist(&mut self, to: &Path) -> io::Result<()> {
        fs::rename(&self.path, to)?;
        self.armed = false;
        Ok(())
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A complete file under its temporary name, waiting for [`commit_all`] (or
/// [`Staged::commit`]) to rename it into place. Dropped uncommitted, it is removed and the old
/// file, if any, stays as it was.
#[derive(Debug)]
pub struct Staged {
    temp: TempGuard,
    target: PathBuf,
    dest: PathBuf,
}

impl Staged {
    /// Flushes a temporary file to disk (a full disk shows here at the latest).
    pub(crate) fn new(
        temp: TempGuard,
        target: PathBuf,
        dest: PathBuf,
    ) -> Result<Self, OutputError> {
        File::open(temp.path())
            .and_then(|f| f.sync_all())
            .map_err(|source| OutputError::Write {
                path: target.clone(),
                source,
            })?;
        Ok(Self { temp, target, dest })
    }

    /// The output path as given.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Renames this one file into place; returns its path as given.
    pub fn commit(self) -> Result<PathBuf, OutputError> {
        let mut paths = commit_all(vec![self])?;
        Ok(paths.remove(0))
    }

    /// Fails if the file to replace is no longer a regular file (or absent).
    fn recheck(&self) -> Result<(), OutputError> {
        match fs::symlink_metadata(&self.dest) {
            Ok(m) if !m.is_file() => Err(OutputError::NotRegular {
                path: self.target.clone(),
                target: self.dest.clone(),
                kind: if m.is_dir() {
                    "a directory"
                } else if m.file_type().is_symlink() {
                    "a symbolic link made during the run"
                } else {
                    kind_of(&m.file_type())
                },
            }),
            _ => Ok(()),
        }
    }
}

/// A file renamed into place by [`commit_all`], with what puts the old one back.
struct Committed {
    target: PathBuf,
    dest: PathBuf,
    /// The old file (a hard link to it), or `None` if there was none.
    backup: Option<TempGuard>,
    existed: bool,
}

impl Committed {
    /// Puts the old file back (or removes the new one if there was none); false if it cannot.
    fn undo(mut self) -> bool {
        match (&mut self.backup, self.existed) {
            (Some(b), _) => b.persist(&self.dest).is_ok(),
            (None, false) => fs::remove_file(&self.dest).is_ok(),
            (None, true) => false,
        }
    }
}

/// Renames staged files into place, together: after every file has been written completely
/// (see [`AtomicFile::stage`]), so a failed write of any of them replaces none. Returns the
/// paths as given.
///
/// Each rename is atomic, the set is not: the files are renamed one after the other (a few
/// microseconds apart). If a rename fails, the files renamed before it are put back from hard
/// links to the old files made just before (or removed, where there was no old file) and the
/// error says which, if any, could not be put back (a file system without hard links). What
/// remains: SIGKILL, a crash, or SIGINT/SIGTERM arriving between two renames leaves the
/// earlier files new and the later ones old (never a partial file, never a temporary after
/// SIGINT/SIGTERM); and a FIFO or device put in place of a target after the last check
/// (just before renaming) would be replaced.
///
/// ```
/// use std::io::Write;
/// use mpiview_apps::io::output::{commit_all, AtomicFile};
/// let dir = tempfile::tempdir().unwrap();
/// let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
/// let mut fa = AtomicFile::create(&a).unwrap();
/// writeln!(fa.writer(), "one").unwrap();
/// let mut fb = AtomicFile::create(&b).unwrap();
/// writeln!(fb.writer(), "two").unwrap();
/// let staged = vec![fa.stage().unwrap(), fb.stage().unwrap()];
/// assert!(!a.exists() && !b.exists()); // nothing in place before the commit
/// assert_eq!(commit_all(staged).unwrap(), vec![a.clone(), b.clone()]);
/// assert_eq!(std::fs::read_to_string(&b).unwrap(), "two\n");
/// ```
pub fn commit_all(files: Vec<Staged>) -> Result<Vec<PathBuf>, OutputError> {
    for f in &files {
        f.recheck()?;
    }
    let several = files.len() > 1;
    let mut done: Vec<Committed> = Vec::new();
    for mut f in files {
        let existed = fs::symlink_metadata(&f.dest).is_ok();
        let backup = if several {
            TempGuard::backup(&f.dest)
        } else {
            None
        };
        if let Err(source) = f.temp.persist(&f.dest) {
            let replaced: Vec<PathBuf> = done
                .into_iter()
                .rev()
                .filter_map(|c| {
                    let target = c.target.clone();
                    (!c.undo()).then_some(target)
                })
                .collect();
            return Err(if replaced.is_empty() {
                OutputError::Write {
                    path: f.target,
                    source,
                }
            } else {
                OutputError::Partial {
                    path: f.target,
                    source,
                    replaced,
                }
            });
        }
        done.push(Committed {
            target: f.target,
            dest: f.dest,
            backup,
            existed,
        });
    }
    sync_directories(&done);
    // Dropping the backups removes the links to the old files.
    Ok(done.into_iter().map(|c| c.target).collect())
}

/// Makes the renames durable (best effort: a directory that cannot be synced changes nothing
/// about the files themselves).
fn sync_directories(done: &[Committed]) {
    for c in done {
        if let Ok(dir) = File::open(directory_of(&c.dest)) {
            let _ = dir.sync_all();
        }
    }
}

/// A file written under a temporary name in the directory of the file it replaces (a
/// symbolic link's target: the link stays) and renamed into place by [`AtomicFile::commit`]
/// (or staged with [`AtomicFile::stage`] and committed with others by [`commit_all`]).
/// Dropped without commit, the temporary file is removed: readers see the old file or the
/// complete new one, never a partial one.
///
/// ```
/// use std::io::Write;
/// use mpiview_apps::io::output::AtomicFile;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("result.txt");
/// let mut f = AtomicFile::create(&path).unwrap();
/// writeln!(f.writer(), "42").unwrap();
/// assert!(!path.exists()); // not there until committed
/// f.commit().unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "42\n");
/// ```
#[derive(Debug)]
pub struct AtomicFile {
    writer: BufWriter<File>,
    temp: TempGuard,
    target: PathBuf,
    dest: PathBuf,
}

impl AtomicFile {
    /// Starts writing `path` (checked as by [`check_output_path`]).
    pub fn create(path: impl AsRef<Path>) -> Result<Self, OutputError> {
        let path = path.as_ref();
        let dest = resolve_output(path)?;
        let (file, temp) = TempGuard::create(path, &dest, ".tmp")?;
        Ok(Self {
            writer: BufWriter::new(file),
            temp,
            target: path.into(),
            dest,
        })
    }

    /// Where the bytes go.
    pub fn writer(&mut self) -> &mut impl Write {
        &mut self.writer
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes and syncs the file, still under its temporary name, for [`commit_all`].
    pub fn stage(self) -> Result<Staged, OutputError> {
        let err = |source| OutputError::Write {
            path: self.target.clone(),
            source,
        };
        let file = self.writer.into_inner().map_err(|e| err(e.into_error()))?;
        drop(file);
        Staged::new(self.temp, self.target, self.dest)
    }

    /// Flushes, syncs and renames the file into place; returns its path.
    pub fn commit(self) -> Result<PathBuf, OutputError> {
        self.stage()?.commit()
    }
}

/// Writes `path` atomically with `f` (see [`AtomicFile`]).
///
/// ```
/// use std::io::Write;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("a.csv");
/// mpiview_apps::io::output::write_atomic(&path, |w| writeln!(w, "x,y")).unwrap();
/// // An error inside leaves nothing behind.
/// let bad = dir.path().join("b.csv");
/// let r = mpiview_apps::io::output::write_atomic(&bad, |_| Err(std::io::Error::other("boom")));
/// assert!(r.is_err() && !bad.exists());
/// assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
/// ```
pub fn write_atomic(
    path: impl AsRef<Path>,
    f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<PathBuf, OutputError> {
    let mut file = AtomicFile::create(path)?;
    f(&mut file.writer).map_err(|source| OutputError::Write {
        path: file.target.clone(),
        source,
    })?;
    file.commit()
}

/// A new temporary file for a library that writes files by name (HDF5): the guard, and the
/// file it will replace (`path` resolved).
pub(crate) fn temp_for(path: &Path, suffix: &str) -> Result<(TempGuard, PathBuf), OutputError> {
    let dest = resolve_output(path)?;
    let (file, temp) = TempGuard::create(path, &dest, suffix)?;
    drop(file);
    Ok((temp, dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn errors_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            check_output_path(Path::new("")),
            Err(OutputError::EmptyPath)
        ));
        assert!(matches!(
            check_output_path(dir.path()),
            Err(OutputError::IsDirectory { .. })
        ));
        assert!(matches!(
            check_output_path(&dir.path().join("x/")),
            Err(OutputError::IsDirectory { .. })
        ));
        let e = check_output_path(&dir.path().join("no/such/dir/x.png")).unwrap_err();
        assert!(matches!(e, OutputError::NoDirectory { .. }), "{e}");
        // A file used as a directory.
        let f = dir.path().join("file");
        fs::write(&f, "x").unwrap();
        assert!(matches!(
            check_output_path(&f.join("x.png")),
            Err(OutputError::NoDirectory { .. })
        ));
        // Bare file names live in the current directory.
        assert_eq!(directory_of(Path::new("out.h5")), PathBuf::from("."));
        assert_eq!(names(dir.path()), ["file"]);
    }

    #[test]
    fn read_only_directory_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let ro = dir.path().join("ro");
        fs::create_dir(&ro).unwrap();
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
        let r = check_output_path(&ro.join("x.h5"));
        // root may write anywhere; then the check rightly passes.
        let root = File::create(ro.join(".probe")).is_ok();
        if !root {
            assert!(matches!(r, Err(OutputError::NotWritable { .. })), "{r:?}");
        }
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn commit_replaces_and_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        fs::write(&path, "old").unwrap();
        {
            let mut f = AtomicFile::create(&path).unwrap();
            f.writer().write_all(b"partial").unwrap();
            // dropped: no commit
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(names(dir.path()), ["out.txt"]);
        write_atomic(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        // A new file: 0644 (less the umask, 022 here).
        let fresh = dir.path().join("fresh.txt");
        write_atomic(&fresh, |w| w.write_all(b"new")).unwrap();
        assert_eq!(mode(&fresh), 0o644);
        // A replaced file keeps its permissions: a private result stays private.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&path, |w| w.write_all(b"newer")).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "newer");
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn links_are_followed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let real = sub.join("real.txt");
        fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink("sub/real.txt", &link).unwrap();
        // A chain: link2 -> link -> sub/real.txt.
        let link2 = dir.path().join("link2.txt");
        std::os::unix::fs::symlink(&link, &link2).unwrap();
        assert_eq!(check_output_path(&link2).unwrap(), real);
        write_atomic(&link2, |w| w.write_all(b"new")).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            fs::symlink_metadata(&link2)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
        assert_eq!(names(&sub), ["real.txt"]);
        // A dangling link: its target is created.
        let dangling = dir.path().join("dangling.txt");
        std::os::unix::fs::symlink("sub/made.txt", &dangling).unwrap();
        write_atomic(&dangling, |w| w.write_all(b"made")).unwrap();
        assert_eq!(fs::read_to_string(sub.join("made.txt")).unwrap(), "made");
        // A loop is an error, not a hang.
        let (l1, l2) = (dir.path().join("l1"), dir.path().join("l2"));
        std::os::unix::fs::symlink("l2", &l1).unwrap();
        std::os::unix::fs::symlink("l1", &l2).unwrap();
        let e = check_output_path(&l1).unwrap_err();
        assert!(matches!(e, OutputError::Links { .. }), "{e}");
    }

    /// Special files made in a temporary directory, never taken from /dev: a regression would
    /// replace the system's /dev/null.
    #[test]
    fn fifos_and_devices_are_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = check_output_path(&fifo).unwrap_err();
        assert!(e.to_string().contains("is a FIFO"), "{e}");
        assert!(AtomicFile::create(&fifo).is_err());
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("fifo", &link).unwrap();
        let e = check_output_path(&link).unwrap_err();
        assert!(e.to_string().contains("(a link to "), "{e}");
        assert!(write_atomic(&link, |w| w.write_all(b"x")).is_err());
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        // A copy of /dev/null (char 1, 3), where this process may make one (root).
        let null = dir.path().join("null");
        let c = std::ffi::CString::new(null.as_os_str().as_bytes()).unwrap();
        // SAFETY: mknod with a valid NUL-terminated path; makedev has no preconditions.
        if unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) } == 0 {
            let e = check_output_path(&null).unwrap_err();
            assert!(e.to_string().contains("is a character device"), "{e}");
            assert!(write_atomic(&null, |w| w.write_all(b"x")).is_err());
            let t = fs::symlink_metadata(&null).unwrap().file_type();
            assert!(t.is_char_device());
            fs::remove_file(&null).unwrap();
        }
        assert_eq!(names(dir.path()), ["fifo", "link"]);
    }

    #[test]
    fn same_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let x = dir.path().join("x");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("x", &link).unwrap();
        for other in [dir.path().join("./x"), link, dir.path().join("sub/../x")] {
            if other.starts_with(dir.path().join("sub")) {
                fs::create_dir_all(dir.path().join("sub")).unwrap();
            }
            let e = check_outputs(&[("--out", &x), ("--png", &other)]).unwrap_err();
            assert!(matches!(e, OutputError::SameFile { .. }), "{other:?}: {e}");
        }
    }

    #[test]
    fn a_set_commits_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, "old a").unwrap();
        let stage = |p: &Path, text: &str| {
            let mut f = AtomicFile::create(p).unwrap();
            f.writer().write_all(text.as_bytes()).unwrap();
            f.stage().unwrap()
        };
        // The second temporary vanishes before the commit: its rename fails, and the first
        // file, already renamed, is put back.
        let staged = vec![stage(&a, "new a"), stage(&b, "new b")];
        fs::remove_file(staged[1].temp.path()).unwrap();
        let e = commit_all(staged).unwrap_err();
        assert!(matches!(e, OutputError::Write { .. }), "{e}");
        assert_eq!(fs::read_to_string(&a).unwrap(), "old a");
        assert_eq!(names(dir.path()), ["a"]);
        // The second target turns into a directory: refused before anything is renamed.
        let staged = vec![stage(&a, "new a"), stage(&b, "new b")];
        fs::create_dir(&b).unwrap();
        let e = commit_all(staged).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        assert_eq!(fs::read_to_string(&a).unwrap(), "old a");
        assert_eq!(names(dir.path()), ["a", "b"]);
        fs::remove_dir_all(&b).unwrap();
        let staged = vec![stage(&a, "new a"), stage(&b, "new b")];
        assert_eq!(commit_all(staged).unwrap().len(), 2);
        assert_eq!(fs::read_to_string(&a).unwrap(), "new a");
        assert_eq!(fs::read_to_string(&b).unwrap(), "new b");
        assert_eq!(names(dir.path()), ["a", "b"]);
    }

    #[test]
    fn undo_puts_the_old_file_back_or_removes_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, "old a").unwrap();
        let backup = TempGuard::backup(&a);
        assert!(backup.is_some());
        // Replaced as a commit does: a new file renamed over it (the link keeps the old one).
        fs::write(dir.path().join("new"), "new a").unwrap();
        fs::rename(dir.path().join("new"), &a).unwrap();
        let undone = Committed {
            target: a.clone(),
            dest: a.clone(),
            backup,
            existed: true,
        }
        .undo();
        assert!(undone);
        assert_eq!(fs::read_to_string(&a).unwrap(), "old a");
        fs::write(&b, "new b").unwrap();
        assert!(TempGuard::backup(&dir.path().join("none")).is_none());
        let undone = Committed {
            target: b.clone(),
            dest: b.clone(),
            backup: None,
            existed: false,
        }
        .undo();
        assert!(undone && !b.exists());
        assert_eq!(names(dir.path()), ["a"]);
    }
}
