//! Output paths: checked before the work, written atomically.

use std::fs::{File, Permissions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::{NamedTempFile, TempPath};

/// Why an output file could not be checked or written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// An empty path.
    #[error("output path is empty")]
    EmptyPath,
    /// The path names an existing directory.
    #[error("output {path} is a directory")]
    IsDirectory {
        /// The output path.
        path: PathBuf,
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
    /// Writing or renaming failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The output path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
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

/// The directory a path's file lives in (`.` for a bare file name).
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Checks, before any heavy work, that `path` can be written: not empty, not a directory, and
/// its directory exists and accepts new files (checked by creating and removing a temporary
/// file there).
///
/// ```
/// use mpiview_apps::io::output::check_output_path;
/// let dir = tempfile::tempdir().unwrap();
/// assert!(check_output_path(&dir.path().join("out.h5")).is_ok());
/// let err = check_output_path(&dir.path().join("missing/out.h5")).unwrap_err();
/// assert!(err.to_string().contains("does not exist"));
/// ```
pub fn check_output_path(path: &Path) -> Result<(), OutputError> {
    temp_in_directory(path, ".check").map(drop)
}

fn temp_in_directory(path: &Path, suffix: &str) -> Result<NamedTempFile, OutputError> {
    if path.as_os_str().is_empty() {
        return Err(OutputError::EmptyPath);
    }
    if path.is_dir() {
        return Err(OutputError::IsDirectory { path: path.into() });
    }
    let dir = directory_of(path);
    if !dir.is_dir() {
        return Err(OutputError::NoDirectory {
            path: path.into(),
            dir,
        });
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix).suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Readable by others like a normally created file (tempfile's default is 0600).
        b.permissions(Permissions::from_mode(0o644));
    }
    b.tempfile_in(&dir)
        .map_err(|source| OutputError::NotWritable {
            path: path.into(),
            dir,
            source,
        })
}

/// A file written under a temporary name in its target directory and renamed into place by
/// [`AtomicFile::commit`]. Dropped without commit, the temporary file is removed: readers see
/// the old file or the complete new one, never a partial one.
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
    temp: TempPath,
    target: PathBuf,
}

impl AtomicFile {
    /// Starts writing `path` (checked as by [`check_output_path`]).
    pub fn create(path: impl AsRef<Path>) -> Result<Self, OutputError> {
        let path = path.as_ref();
        let (file, temp) = temp_in_directory(path, ".tmp")?.into_parts();
        Ok(Self {
            writer: BufWriter::new(file),
            temp,
            target: path.into(),
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

    /// Flushes, syncs and renames the file into place; returns its path.
    pub fn commit(self) -> Result<PathBuf, OutputError> {
        let err = |source| OutputError::Write {
            path: self.target.clone(),
            source,
        };
        let file = self.writer.into_inner().map_err(|e| err(e.into_error()))?;
        file.sync_all().map_err(err)?;
        drop(file);
        self.temp.persist(&self.target).map_err(|e| err(e.error))?;
        Ok(self.target)
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

/// A temporary path in the target's directory for a library that writes files by name
/// (HDF5), with the target to rename it to.
pub(crate) fn temp_path_for(path: &Path, suffix: &str) -> Result<TempPath, OutputError> {
    Ok(temp_in_directory(path, suffix)?.into_temp_path())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let e = check_output_path(&dir.path().join("no/such/dir/x.png")).unwrap_err();
        assert!(matches!(e, OutputError::NoDirectory { .. }), "{e}");
        // A file used as a directory.
        let f = dir.path().join("file");
        std::fs::write(&f, "x").unwrap();
        assert!(matches!(
            check_output_path(&f.join("x.png")),
            Err(OutputError::NoDirectory { .. })
        ));
        // Bare file names live in the current directory.
        assert_eq!(directory_of(Path::new("out.h5")), PathBuf::from("."));
    }

    #[cfg(unix)]
    #[test]
    fn read_only_directory_is_reported() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, Permissions::from_mode(0o555)).unwrap();
        let r = check_output_path(&ro.join("x.h5"));
        // root may write anywhere; then the check rightly passes.
        let root = File::create(ro.join(".probe")).is_ok();
        if !root {
            assert!(matches!(r, Err(OutputError::NotWritable { .. })), "{r:?}");
        }
        std::fs::set_permissions(&ro, Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn commit_replaces_and_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "old").unwrap();
        {
            let mut f = AtomicFile::create(&path).unwrap();
            f.writer().write_all(b"partial").unwrap();
            // dropped: no commit
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        write_atomic(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644);
        }
    }
}
