//! PNG images: a histogram chart, a Julia-set picture, a scaling chart, and line charts.
//!
//! Drawing is done by `plotters` into an RGB buffer, text through `ab_glyph` with a font
//! compiled into the binary (Ubuntu Light, from `epaint_default_fonts`): nothing is read from
//! the system at run time, so charts come out the same on a fresh node without fonts. The
//! buffer is encoded by the `png` crate and written atomically ([`AtomicFile`]). The `_staged`
//! variants stop short of the rename, for [`commit_all`](crate::io::output::commit_all) with a
//! run's other files.

mod histogram;
mod julia;
mod lines;
mod scaling;

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::style::FontStyle;

use super::output::{AtomicFile, OutputError, Staged};

pub use histogram::{HistogramChart, histogram_png, histogram_png_staged};
pub use julia::{JuliaImage, julia_png, julia_png_staged, julia_rgb};
pub use lines::{LineChart, LineSeries, lines_png};
pub use scaling::{ScalingChart, ScalingSeries, scaling_png};

/// The font family name the charts use.
pub(crate) const FONT: &str = "sans-serif";

/// Registers the embedded font with plotters (once per process). Called by the drawing
/// functions; call it yourself only to draw with plotters directly.
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ] {
            plotters::style::register_font(FONT, style, epaint_default_fonts::UBUNTU_LIGHT)
                .unwrap_or_else(|_| panic!("embedded font rejected"));
        }
    });
}

/// Encodes an RGB8 buffer (`width × height × 3`, row-major) as PNG and writes it atomically.
///
/// # Panics
/// Panics if the buffer length does not match the size.
pub fn write_rgb_png(
    path: impl AsRef<Path>,
    rgb: &[u8],
    width: u32,
    height: u32,
) -> Result<PathBuf, OutputError> {
    stage_rgb_png(path, rgb, width, height)?.commit()
}

/// As [`write_rgb_png`], leaving the complete file under its temporary name.
///
/// ```
/// use mpiview_apps::io::png::stage_rgb_png;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("red.png");
/// let staged = stage_rgb_png(&path, &[255, 0, 0], 1, 1).unwrap();
/// assert!(!path.exists());
/// staged.commit().unwrap();
/// assert!(path.exists());
/// ```
///
/// # Panics
/// Panics if the buffer length does not match the size.
pub fn stage_rgb_png(
    path: impl AsRef<Path>,
    rgb: &[u8],
    width: u32,
    height: u32,
) -> Result<Staged, OutputError> {
    assert_eq!(
        rgb.len(),
        width as usize * height as usize * 3,
        "png: buffer size"
    );
    let path = path.as_ref();
    let mut file = AtomicFile::create(path)?;
    let err = |e: png::EncodingError| match e {
        png::EncodingError::IoError(source) => OutputError::Write {
            path: path.into(),
            source,
        },
        e => OutputError::Image {
            path: path.into(),
            message: e.to_string(),
        },
    };
    {
        let mut enc = png::Encoder::new(file.writer(), width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(err)?;
        w.write_image_data(rgb).map_err(err)?;
        w.finish().map_err(err)?;
    }
    file.stage()
}

fn draw_err(path: &Path, e: impl std::fmt::Display) -> OutputError {
    OutputError::Image {
        path: path.into(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::julia::Julia;
    use crate::kernels::maxnormal::{Histogram, density, exact_edges, samples};

    /// Writes the default pictures to `target/png-preview/` to look at:
    /// `cargo test -p mpiview-apps --release --lib png_preview -- --ignored`.
    #[test]
    #[ignore = "writes preview images for a person to look at"]
    fn png_preview() {
        let dir = Path::new("target/png-preview");
        std::fs::create_dir_all(dir).unwrap();
        let n = 10;
        let xs = samples(2024, n, 0..500_000);
        let mut h = Histogram::new(exact_edges(n, 100));
        h.fill(&xs);
        let chart = HistogramChart {
            title: "Maximum of 10 standard normals: 500,000 samples".into(),
            x_label: "x = max(Z₁, …, Z₁₀)".into(),
            y_label: "density".into(),
            bars_label: "samples (histogram)".into(),
            curve_label: "exact: N φ(x) Φ(x)^(N−1)".into(),
            ..Default::default()
        };
        histogram_png(
            dir.join("maxnormal.png"),
            &h,
            Some(&|x| density(n, x)),
            &chart,
        )
        .unwrap();
        let j = Julia::default();
        let img = JuliaImage {
            title: Some("Julia set of z² + c,  c = −0.065 + 0.66i".into()),
            tmax: j.tmax,
        };
        julia_png(dir.join("julia.png"), &j.counts(), j.rows, j.cols, &img).unwrap();
        julia_png(
            dir.join("julia-untitled.png"),
            &j.counts(),
            j.rows,
            j.cols,
            &JuliaImage {
                title: None,
                tmax: j.tmax,
            },
        )
        .unwrap();
    }

    #[test]
    fn pngs_are_written_and_decodable() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = Histogram::new(exact_edges(3, 20));
        h.fill(&samples(1, 3, 0..2000));
        let p = histogram_png(
            dir.path().join("h.png"),
            &h,
            Some(&|x| density(3, x)),
            &HistogramChart::default(),
        )
        .unwrap();
        let decoder =
            ::png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&p).unwrap()));
        let info = decoder.read_info().unwrap().info().clone();
        assert_eq!((info.width, info.height), (1000, 640));
        let j = Julia {
            rows: 40,
            cols: 60,
            ..Julia::default()
        };
        let img = JuliaImage {
            title: Some("t".into()),
            tmax: j.tmax,
        };
        let p = julia_png(dir.path().join("j.png"), &j.counts(), j.rows, j.cols, &img).unwrap();
        let decoder =
            ::png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&p).unwrap()));
        let info = decoder.read_info().unwrap().info().clone();
        assert_eq!((info.width, info.height), (60, 40 + BAND_FOR_TESTS));
        // A bad directory fails before drawing.
        assert!(matches!(
            histogram_png(
                dir.path().join("no/h.png"),
                &h,
                None,
                &HistogramChart::default()
            ),
            Err(OutputError::NoDirectory { .. })
        ));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    const BAND_FOR_TESTS: u32 = 52;
}
