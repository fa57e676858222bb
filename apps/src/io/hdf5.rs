//! HDF5 files written atomically: by one process, or by the engines together through MPI-IO.
//!
//! [`H5Writer`] creates the file under a temporary name in the target directory (a symbolic
//! link's target: the link stays); datasets and attributes go in; [`H5Writer::finish`] closes
//! the file and renames it into place, or [`H5Writer::stage`] closes it for
//! [`commit_all`](crate::io::output::commit_all) with the run's other files. Dropped
//! unfinished, or on error, the temporary file is removed. Files open in h5py (strings are
//! variable-length UTF-8, read back as `str`).
//!
//! **Parallel HDF5.** The controller reserves the temporary file ([`SharedH5::reserve`]) and
//! sends its path to the engines; every engine opens it together ([`H5Writer::collective`], on
//! [`Context::engines`](mpiview::Context::engines)), and each writes its own rows of a large
//! dataset ([`H5Writer::dataset_rows`]) while every call that makes a dataset or an attribute is
//! made by all of them with the same values (HDF5's rule for metadata). When every engine has
//! closed the file, the controller stages it ([`SharedH5::stage`]) and commits it with the
//! run's other files; if anything failed, dropping the [`SharedH5`] removes the temporary. The
//! datasets are the same, value for value and in type and shape, as a serial write of the same
//! data.
//!
//! **A fault for tests.** With `MPIVIEW_FAULT_WRITE=K` in its environment, writer `K` of a
//! collective write (its rank in the writers' communicator: engine `K` in the apps) fails its
//! first dataset write as a full disk would, so that tests can check that one engine's failure
//! ends the run cleanly: an error, no file, no temporary left, nothing replaced.
//!
//! ```
//! use mpiview_apps::io::hdf5::H5Writer;
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("run.h5");
//! let w = H5Writer::create(&path).unwrap();
//! w.dataset_1d("samples", &[1.0f64, 2.0, 3.0]).unwrap();
//! w.dataset_2d("counts", &[1u16, 2, 3, 4, 5, 6], 2, 3).unwrap();
//! w.attr("/", "seed", 42u64).unwrap();
//! w.attr_str("samples", "units", "standard deviations").unwrap();
//! w.finish().unwrap();
//!
//! let f = hdf5::File::open(&path).unwrap();
//! assert_eq!(f.dataset("counts").unwrap().shape(), vec![2, 3]);
//! ```

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::output::{OutputError, Staged, TempGuard, temp_for};
use hdf5::types::VarLenUnicode;
use hdf5::{H5Type, Location};
use ndarray::{ArrayView, ArrayView2, Dimension};

/// An HDF5 file being written; see the module docs.
#[derive(Debug)]
pub struct H5Writer {
    // Declared first: closed before the temporary is removed.
    file: hdf5::File,
    /// The temporary file and what it replaces; `None` for an engine's part of a collective
    /// write (the controller owns the temporary).
    temp: Option<(TempGuard, PathBuf)>,
    target: PathBuf,
    /// Set for an engine's part of a collective write.
    collective: Option<Collective>,
}

/// What an engine's part of a collective write needs besides the file.
struct Collective {
    /// The writers, to agree whether a write succeeded everywhere: after a write failed on some
    /// of them, all must take the same path, or the next collective HDF5 call waits forever.
    comm: mpi::topology::SimpleCommunicator,
    /// The file's directory: MPI-IO does not say why a write failed.
    dir: PathBuf,
    /// This writer fails its first dataset write (`MPIVIEW_FAULT_WRITE`, for tests).
    fault: std::cell::Cell<bool>,
}

/// The environment variable that makes one writer of a collective write fail (see the module
/// docs).
pub const FAULT_WRITE_VAR: &str = "MPIVIEW_FAULT_WRITE";

impl std::fmt::Debug for Collective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use mpi::topology::Communicator;
        f.debug_struct("Collective")
            .field("writers", &self.comm.size())
            .field("dir", &self.dir)
            .finish()
    }
}

/// The controller's side of a file that the engines write together; see the module docs.
#[derive(Debug)]
pub struct SharedH5 {
    temp: TempGuard,
    target: PathBuf,
    dest: PathBuf,
}

impl SharedH5 {
    /// Reserves an empty temporary file for `path` (checked first as by
    /// [`check_output_path`](crate::io::output::check_output_path)), removed again unless
    /// staged and committed, for a file of about `bytes`. **Controller only.**
    ///
    /// Fails with "No space left on device" if the file system has less room than `bytes` (the
    /// datasets' values): a parallel write that runs out of space part-way can leave the
    /// engines waiting for each other inside HDF5's closing of the file (its metadata flush
    /// fails on some of them and not on others), so the space is checked first. (HDF5's
    /// metadata, a few kilobytes, is not counted: a file system that fills up within them, or
    /// by another writer during the write, can still meet that HDF5 limitation.)
    pub fn reserve(path: impl AsRef<Path>, bytes: u64) -> Result<Self, OutputError> {
        let target = path.as_ref().to_path_buf();
        let (temp, dest) = temp_for(&target, ".h5.tmp")?;
        let dir = temp
            .path()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let needed = bytes;
        if let Some(free) = free_bytes(dir)
            && free < needed
        {
            let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
            return Err(OutputError::Write {
                path: target,
                source: std::io::Error::new(
                    full.kind(),
                    format!(
                        "{full}: the file needs about {needed} bytes and the file system has {free} free"
                    ),
                ),
            });
        }
        Ok(Self { temp, target, dest })
    }

    /// The temporary file's path, for the engines to open.
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// The output path as given.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The error to report when the engines' collective write failed with `cause`.
    pub fn engines_failed(&self, cause: impl std::fmt::Display) -> OutputError {
        OutputError::Hdf5 {
            path: self.target.clone(),
            message: format!(
                "parallel HDF5 (MPI-IO) failed; --serial-io writes the file from the controller: {cause}"
            ),
        }
    }

    /// The file, complete, once every engine has closed it: flushed to disk and ready for
    /// [`commit_all`](crate::io::output::commit_all).
    pub fn stage(self) -> Result<Staged, OutputError> {
        Staged::new(self.temp, self.target, self.dest)
    }
}

impl H5Writer {
    /// Starts writing `path` (checked first as by
    /// [`check_output_path`](crate::io::output::check_output_path)).
    pub fn create(path: impl AsRef<Path>) -> Result<Self, OutputError> {
        let target = path.as_ref().to_path_buf();
        let (temp, dest) = temp_for(&target, ".h5.tmp")?;
        let file = hdf5::File::create(temp.path()).map_err(|e| h5err(&target, e))?;
        Ok(Self {
            file,
            temp: Some((temp, dest)),
            target,
            collective: None,
        })
    }

    /// Opens the temporary file `temp` of a [`SharedH5`] for `target` (the name errors give)
    /// on every rank of `comm` together, through MPI-IO, if every rank is `ready` (has what it
    /// must write): a rank that cannot take part must still say so here, or the others would
    /// wait for it inside HDF5. **Every rank of `comm`** calls it, and then every other method
    /// in the same order with the same arguments, except for the rows each writes with
    /// [`H5Writer::dataset_rows`]; [`H5Writer::close`] ends it.
    pub fn collective(
        temp: &Path,
        target: &Path,
        comm: &mpi::topology::SimpleCommunicator,
        ready: Result<(), String>,
    ) -> Result<Self, OutputError> {
        use mpi::collective::{CommunicatorCollectives, SystemOperation};
        use mpi::raw::AsRaw;
        use mpi::topology::Communicator;
        let (mine, mut all) = (u8::from(ready.is_ok()), 0u8);
        comm.all_reduce_into(&mine, &mut all, SystemOperation::min());
        if let Err(message) = ready {
            return Err(OutputError::Hdf5 {
                path: target.to_path_buf(),
                message,
            });
        }
        if all == 0 {
            return Err(OutputError::Hdf5 {
                path: target.to_path_buf(),
                message: "another writer has nothing to write".into(),
            });
        }
        let file = hdf5::File::with_options()
            .with_fapl(|p| p.mpio(comm.as_raw(), None))
            .create(temp)
            .map_err(|e| h5err(target, e))?;
        Ok(Self {
            file,
            temp: None,
            target: target.to_path_buf(),
            collective: Some(Collective {
                comm: comm.duplicate(),
                dir: temp
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .to_path_buf(),
                fault: std::cell::Cell::new(
                    std::env::var(FAULT_WRITE_VAR)
                        .ok()
                        .and_then(|k| k.parse().ok())
                        == Some(comm.rank()),
                ),
            }),
        })
    }

    /// Creates the row-major `rows × cols` dataset `name` and writes this rank's rows `mine`
    /// of it from `data` (`mine.len() × cols` values). In a collective write every rank calls
    /// it with its own rows (none is fine); the rows of all ranks together must cover the
    /// dataset. Serially, `mine` is every row.
    ///
    /// # Panics
    /// Panics if `data` has the wrong length or `mine` reaches past `rows`.
    pub fn dataset_rows<T: H5Type>(
        &self,
        name: &str,
        (rows, cols): (usize, usize),
        mine: Range<usize>,
        data: &[T],
    ) -> Result<(), OutputError> {
        assert!(mine.end <= rows, "dataset_rows: rows {mine:?} past {rows}");
        let view = ArrayView2::from_shape((mine.len(), cols), data)
            .expect("dataset_rows: data length is not rows × cols");
        let part = (!mine.is_empty()).then(|| (view, ndarray::s![mine, ..]));
        self.dataset_part(name, (rows, cols), part)
    }

    /// Creates the one-dimensional dataset `name` of `len` values and writes this rank's part
    /// `mine` of it from `data` (`mine.len()` values); the collective form of
    /// [`H5Writer::dataset_1d`], as [`H5Writer::dataset_rows`] is of a 2-D dataset.
    ///
    /// # Panics
    /// Panics if `data` has the wrong length or `mine` reaches past `len`.
    pub fn dataset_part_1d<T: H5Type>(
        &self,
        name: &str,
        len: usize,
        mine: Range<usize>,
        data: &[T],
    ) -> Result<(), OutputError> {
        assert!(mine.end <= len, "dataset_part_1d: {mine:?} past {len}");
        assert_eq!(data.len(), mine.len(), "dataset_part_1d: data length");
        let part = (!mine.is_empty()).then(|| (ArrayView::from(data), mine));
        self.dataset_part(name, len, part)
    }

    /// Creates the dataset `name` of `shape` (every writer) and writes `part`, this writer's
    /// values and where they go (none for a writer with nothing to write).
    fn dataset_part<'a, T, D, S>(
        &self,
        name: &str,
        shape: impl Into<hdf5::Extents>,
        part: Option<(ArrayView<'a, T, D>, S)>,
    ) -> Result<(), OutputError>
    where
        T: H5Type,
        D: Dimension,
        S: TryInto<hdf5::Selection>,
        hdf5::Error: From<S::Error>,
    {
        let ds = self.agreed(self.file.new_dataset::<T>().shape(shape).create(name))?;
        let written = match part {
            _ if self
                .collective
                .as_ref()
                .is_some_and(|c| c.fault.replace(false)) =>
            {
                Err(OutputError::Hdf5 {
                    path: self.target.clone(),
                    message: format!("{FAULT_WRITE_VAR}: this writer's part failed on purpose"),
                })
            }
            Some((view, at)) => ds.write_slice(view, at).map_err(|e| self.fail(e)),
            None => Ok(()),
        };
        self.agree(written)
    }

    /// [`H5Writer::agree`] on an HDF5 call that makes something: its value if it succeeded
    /// on every writer.
    fn agreed<T>(&self, made: hdf5::Result<T>) -> Result<T, OutputError> {
        match made {
            Ok(value) => self.agree(Ok(())).map(|()| value),
            Err(e) => Err(self
                .agree(Err(self.fail(e)))
                .expect_err("a failure stays one")),
        }
    }

    /// `result`, once every writer of a collective write has reported its own: an error if
    /// any failed. Serially, `result` itself.
    fn agree(&self, result: Result<(), OutputError>) -> Result<(), OutputError> {
        use mpi::collective::{CommunicatorCollectives, SystemOperation};
        let Some(c) = &self.collective else {
            return result;
        };
        let (mine, mut all) = (u8::from(result.is_ok()), 0u8);
        c.comm
            .all_reduce_into(&mine, &mut all, SystemOperation::min());
        match result {
            Ok(()) if all == 0 => Err(Self::explain(
                OutputError::Hdf5 {
                    path: self.target.clone(),
                    message: "another writer's part failed".into(),
                },
                Some(&c.dir),
            )),
            other => other,
        }
    }

    /// Closes an engine's part of a collective write (collective: every rank of the
    /// communicator calls it).
    pub fn close(self) -> Result<(), OutputError> {
        let Self {
            file,
            target,
            collective,
            ..
        } = self;
        let dir = collective.as_ref().map(|c| c.dir.as_path());
        file.close()
            .map_err(|e| Self::explain(h5err(&target, e), dir))
    }

    /// The error `e`, with the likely cause where MPI-IO hides it (a full file system).
    fn fail(&self, e: hdf5::Error) -> OutputError {
        let dir = self.collective.as_ref().map(|c| c.dir.as_path());
        Self::explain(h5err(&self.target, e), dir)
    }

    fn explain(mut error: OutputError, shared_dir: Option<&Path>) -> OutputError {
        if let (Some(dir), OutputError::Hdf5 { message, .. }) = (shared_dir, &mut error)
            && free_bytes(dir) == Some(0)
        {
            let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
            message.push_str(&format!(" ({full}: the file system has no space left)"));
        }
        error
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes a dataset of any dimension from an ndarray view (a path like `"run/x"` needs
    /// its groups created first with [`H5Writer::group`]).
    pub fn dataset<'a, T: H5Type, D: Dimension>(
        &self,
        name: &str,
        data: impl Into<ArrayView<'a, T, D>>,
    ) -> Result<(), OutputError> {
        let written = self
            .file
            .new_dataset_builder()
            .with_data(data.into())
            .create(name)
            .map(drop)
            .map_err(|e| self.fail(e));
        self.agree(written)
    }

    /// Writes a one-dimensional dataset.
    pub fn dataset_1d<T: H5Type>(&self, name: &str, data: &[T]) -> Result<(), OutputError> {
        self.dataset(name, ArrayView::from(data))
    }

    /// Writes a row-major `rows × cols` dataset.
    ///
    /// # Panics
    /// Panics if `data.len() != rows * cols`.
    pub fn dataset_2d<T: H5Type>(
        &self,
        name: &str,
        data: &[T],
        rows: usize,
        cols: usize,
    ) -> Result<(), OutputError> {
        let view = ArrayView2::from_shape((rows, cols), data)
            .expect("dataset_2d: data length is not rows × cols");
        self.dataset(name, view)
    }

    /// Creates a group (`"a/b"` creates both levels if needed).
    pub fn group(&self, name: &str) -> Result<(), OutputError> {
        let mut path = String::new();
        for part in name.split('/').filter(|p| !p.is_empty()) {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(part);
            if self.file.group(&path).is_err() {
                self.agreed(self.file.create_group(&path))?;
            }
        }
        Ok(())
    }

    fn location(&self, object: &str) -> Result<Location, OutputError> {
        let e = |e| h5err(&self.target, e);
        if object.is_empty() || object == "/" {
            let l: &Location = &self.file;
            return Ok(l.clone());
        }
        if let Ok(g) = self.file.group(object) {
            let l: &Location = &g;
            return Ok(l.clone());
        }
        let d = self.file.dataset(object).map_err(e)?;
        let l: &Location = &d;
        Ok(l.clone())
    }

    /// Writes a scalar attribute on `object` (`"/"` for the file, or a dataset/group name).
    pub fn attr<T: H5Type>(&self, object: &str, name: &str, value: T) -> Result<(), OutputError> {
        let loc = self.location(object)?;
        self.agreed(
            loc.new_attr::<T>()
                .create(name)
                .and_then(|a| a.write_scalar(&value)),
        )
    }

    /// Writes a string attribute (variable-length UTF-8) on `object`.
    pub fn attr_str(&self, object: &str, name: &str, value: &str) -> Result<(), OutputError> {
        let v = VarLenUnicode::from_str(value).map_err(|e| OutputError::Hdf5 {
            path: self.target.clone(),
            message: format!("attribute {name}: {e}"),
        })?;
        self.attr(object, name, v)
    }

    /// Closes the file and syncs it, still under its temporary name, for
    /// [`commit_all`](crate::io::output::commit_all).
    pub fn stage(self) -> Result<Staged, OutputError> {
        let Self {
            file, temp, target, ..
        } = self;
        file.close().map_err(|e| h5err(&target, e))?;
        let (temp, dest) = temp.expect("H5Writer::stage: an engine's part of a collective write");
        Staged::new(temp, target, dest)
    }

    /// Closes the file and renames it into place; returns the final path.
    pub fn finish(self) -> Result<PathBuf, OutputError> {
        self.stage()?.commit()
    }
}

/// Bytes an unprivileged writer may still use on the file system of `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid C string; statvfs fills the struct it is given.
    let st = unsafe {
        let mut st = std::mem::zeroed::<libc::statvfs>();
        (libc::statvfs(c.as_ptr(), &mut st) == 0).then_some(st)
    }?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

fn h5err(path: &Path, e: hdf5::Error) -> OutputError {
    OutputError::Hdf5 {
        path: path.into(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn datasets_and_attributes_read_back() {
        let _files = crate::test_support::exclusive();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.h5");
        let w = H5Writer::create(&path).unwrap();
        w.dataset_1d("x", &[0.5f64, -1.0, 2.25]).unwrap();
        w.dataset_2d("j", &[1u16, 2, 3, 4], 2, 2).unwrap();
        let cube =
            Array3::<u32>::from_shape_fn((2, 3, 4), |(a, b, c)| (a * 100 + b * 10 + c) as u32);
        w.group("deep/er").unwrap();
        w.dataset("deep/er/cube", &cube).unwrap();
        w.attr("/", "n", 10u32).unwrap();
        w.attr("x", "scale", 1.5f64).unwrap();
        w.attr("deep", "level", 1i64).unwrap();
        w.attr_str("/", "integrand", "sin²(x) — ünïcode").unwrap();
        assert!(!path.exists(), "visible before finish");
        assert_eq!(w.finish().unwrap(), path);

        let f = hdf5::File::open(&path).unwrap();
        assert_eq!(
            f.dataset("x").unwrap().read_raw::<f64>().unwrap(),
            vec![0.5, -1.0, 2.25]
        );
        assert_eq!(f.dataset("j").unwrap().shape(), vec![2, 2]);
        assert_eq!(
            f.dataset("j").unwrap().read_raw::<u16>().unwrap(),
            vec![1, 2, 3, 4]
        );
        let back = f
            .dataset("deep/er/cube")
            .unwrap()
            .read_dyn::<u32>()
            .unwrap();
        assert_eq!(back, cube.into_dyn());
        assert_eq!(f.attr("n").unwrap().read_scalar::<u32>().unwrap(), 10);
        assert_eq!(
            f.dataset("x")
                .unwrap()
                .attr("scale")
                .unwrap()
                .read_scalar::<f64>()
                .unwrap(),
            1.5
        );
        assert_eq!(
            f.group("deep")
                .unwrap()
                .attr("level")
                .unwrap()
                .read_scalar::<i64>()
                .unwrap(),
            1
        );
        let s: VarLenUnicode = f.attr("integrand").unwrap().read_scalar().unwrap();
        assert_eq!(s.as_str(), "sin²(x) — ünïcode");
        // Only the file itself is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn unfinished_or_failed_writes_leave_nothing() {
        let _files = crate::test_support::exclusive();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.h5");
        {
            let w = H5Writer::create(&path).unwrap();
            w.dataset_1d("x", &[1.0f64]).unwrap();
            // A second dataset of the same name is an HDF5 error.
            let e = w.dataset_1d("x", &[2.0f64]).unwrap_err();
            assert!(matches!(e, OutputError::Hdf5 { .. }), "{e}");
        }
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let e = H5Writer::create(dir.path().join("nope/x.h5")).unwrap_err();
        assert!(matches!(e, OutputError::NoDirectory { .. }));
    }

    /// Opens a written file with h5py: Debian's (`scripts/setup.sh` installs python3-h5py;
    /// `PYTHON` chooses another interpreter).
    #[test]
    fn h5py_reads_the_file() {
        let _files = crate::test_support::exclusive();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("py.h5");
        let w = H5Writer::create(&path).unwrap();
        w.dataset_2d("counts", &[1u16, 2, 3, 4, 5, 6], 2, 3)
            .unwrap();
        w.attr_str("/", "title", "max of N normals").unwrap();
        w.attr("counts", "tmax", 256u32).unwrap();
        w.finish().unwrap();
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
        let out = std::process::Command::new(&python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/check_h5.py"))
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("{python}: {e}"));
        let text = String::from_utf8_lossy(&out.stdout);
        println!("{text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success());
        assert!(text.contains("counts uint16 (2, 3)"), "{text}");
        assert!(text.contains("title = 'max of N normals'"), "{text}");
    }
}
