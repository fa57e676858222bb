//! HDF5 files written serially (no MPI file access) and atomically.
//!
//! [`H5Writer`] creates the file under a temporary name in the target directory (a symbolic
//! link's target: the link stays); datasets and attributes go in; [`H5Writer::finish`] closes
//! the file and renames it into place, or [`H5Writer::stage`] closes it for
//! [`commit_all`](crate::io::output::commit_all) with the run's other files. Dropped
//! unfinished, or on error, the temporary file is removed. Files open in h5py (strings are
//! variable-length UTF-8, read back as `str`).
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
    temp: TempGuard,
    target: PathBuf,
    dest: PathBuf,
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
            temp,
            target,
            dest,
        })
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
        self.file
            .new_dataset_builder()
            .with_data(data.into())
            .create(name)
            .map(drop)
            .map_err(|e| h5err(&self.target, e))
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
                self.file
                    .create_group(&path)
                    .map_err(|e| h5err(&self.target, e))?;
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
        loc.new_attr::<T>()
            .create(name)
            .and_then(|a| a.write_scalar(&value))
            .map_err(|e| h5err(&self.target, e))
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
            file,
            temp,
            target,
            dest,
        } = self;
        file.close().map_err(|e| h5err(&target, e))?;
        Staged::new(temp, target, dest)
    }

    /// Closes the file and renames it into place; returns the final path.
    pub fn finish(self) -> Result<PathBuf, OutputError> {
        self.stage()?.commit()
    }
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

    /// Opens a written file with h5py (`pip install h5py`); run with `--ignored`.
    #[test]
    #[ignore = "needs python3 with h5py"]
    fn h5py_reads_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("py.h5");
        let w = H5Writer::create(&path).unwrap();
        w.dataset_2d("counts", &[1u16, 2, 3, 4, 5, 6], 2, 3)
            .unwrap();
        w.attr_str("/", "title", "max of N normals").unwrap();
        w.attr("counts", "tmax", 256u32).unwrap();
        w.finish().unwrap();
        let out = std::process::Command::new("python3")
            .arg("tools/check_h5.py")
            .arg(&path)
            .output()
            .expect("python3");
        let text = String::from_utf8_lossy(&out.stdout);
        println!("{text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success());
        assert!(text.contains("counts uint16 (2, 3)"), "{text}");
        assert!(text.contains("title = 'max of N normals'"), "{text}");
    }
}
