//! The Julia-set counts as a coloured picture.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, draw_err, register_fonts, stage_rgb_png};
use crate::io::output::{OutputError, Staged, check_output_path};

/// How to draw a Julia image.
#[derive(Clone, Debug, PartialEq)]
pub struct JuliaImage {
    /// Optional title, in a band above the picture.
    pub title: Option<String>,
    /// The iteration limit the counts were computed with (counts equal to it never escaped).
    pub tmax: u16,
}

/// Height of the title band in pixels.
const BAND: u32 = 52;

/// RGB8 pixels of escape-time colouring: counts on a logarithmic scale through the perceptual
/// "magma" colormap (dark: escapes at once; bright: escapes late), and black for points that
/// never escaped. The imaginary axis points up (row 0 of `counts`, the lowest `Im z`, is the
/// bottom row of the picture; NumPy's `imshow(J)` shows it flipped).
///
/// # Panics
/// Panics if `counts.len() != rows * cols`.
pub fn julia_rgb(counts: &[u16], rows: usize, cols: usize, tmax: u16) -> Vec<u8> {
    assert_eq!(
        counts.len(),
        rows * cols,
        "julia_rgb: counts are not rows × cols"
    );
    let lut: Vec<[u8; 3]> = (0..=tmax)
        .map(|k| {
            if k == tmax {
                [0, 0, 0]
            } else {
                let t = (1.0 + f64::from(k)).ln() / (1.0 + f64::from(tmax)).ln();
                let c = colorous::MAGMA.eval_continuous(0.08 + 0.92 * t);
                [c.r, c.g, c.b]
            }
        })
        .collect();
    let mut rgb = Vec::with_capacity(rows * cols * 3);
    for r in (0..rows).rev() {
        for &k in &counts[r * cols..(r + 1) * cols] {
            rgb.extend_from_slice(&lut[usize::from(k.min(tmax))]);
        }
    }
    rgb
}

/// Writes the picture of `counts` (`rows × cols`, row-major) as a PNG, atomically: one pixel
/// per point, colours as in [`julia_rgb`], with the title in a band on top if there is one.
///
/// ```
/// use mpiview_apps::io::png::{julia_png, JuliaImage};
/// use mpiview_apps::kernels::julia::Julia;
/// let dir = tempfile::tempdir().unwrap();
/// let j = Julia { rows: 128, cols: 128, ..Julia::default() };
/// let img = JuliaImage { title: Some("c = -0.065 + 0.66i".into()), tmax: j.tmax };
/// julia_png(dir.path().join("j.png"), &j.counts(), j.rows, j.cols, &img).unwrap();
/// ```
pub fn julia_png(
    path: impl AsRef<Path>,
    counts: &[u16],
    rows: usize,
    cols: usize,
    image: &JuliaImage,
) -> Result<PathBuf, OutputError> {
    julia_png_staged(path, counts, rows, cols, image)?.commit()
}

/// As [`julia_png`], leaving the complete file under its temporary name for
/// [`commit_all`](crate::io::output::commit_all).
///
/// ```
/// use mpiview_apps::io::png::{julia_png_staged, JuliaImage};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("j.png");
/// let img = JuliaImage { title: None, tmax: 3 };
/// let staged = julia_png_staged(&path, &[0, 1, 2, 3], 2, 2, &img).unwrap();
/// assert!(!path.exists());
/// staged.commit().unwrap();
/// ```
pub fn julia_png_staged(
    path: impl AsRef<Path>,
    counts: &[u16],
    rows: usize,
    cols: usize,
    image: &JuliaImage,
) -> Result<Staged, OutputError> {
    let path = path.as_ref();
    check_output_path(path)?;
    let pixels = julia_rgb(counts, rows, cols, image.tmax);
    let (w, h) = (cols as u32, rows as u32);
    let Some(title) = &image.title else {
        return stage_rgb_png(path, &pixels, w, h);
    };
    let band = BAND as usize * cols * 3;
    let mut buf = vec![0u8; band + pixels.len()];
    for px in buf[..band].chunks_exact_mut(3) {
        px.copy_from_slice(&[14, 10, 24]);
    }
    buf[band..].copy_from_slice(&pixels);
    draw_title(&mut buf, w, h + BAND, title).map_err(|e| draw_err(path, e))?;
    stage_rgb_png(path, &buf, w, h + BAND)
}

fn draw_title(
    buf: &mut [u8],
    w: u32,
    h: u32,
    title: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    register_fonts();
    let root = BitMapBackend::with_buffer(buf, (w, h)).into_drawing_area();
    let size = (f64::from(w) / 34.0).clamp(14.0, 30.0);
    let style = (FONT, size)
        .into_font()
        .color(&RGBColor(240, 236, 230))
        .pos(Pos::new(HPos::Center, VPos::Center));
    root.draw(&Text::new(
        title,
        ((w / 2) as i32, (BAND / 2) as i32),
        style,
    ))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_orientation() {
        // 2 rows × 2 cols: row 0 is the bottom of the picture.
        let counts = [256, 0, 1, 100];
        let rgb = julia_rgb(&counts, 2, 2, 256);
        assert_eq!(rgb.len(), 12);
        // Top-left pixel is counts[2] (row 1, col 0); bottom-left is counts[0] = tmax: black.
        assert_eq!(&rgb[6..9], &[0, 0, 0]);
        // More iterations, brighter.
        let lum = |p: &[u8]| u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]);
        assert!(lum(&rgb[3..6]) > lum(&rgb[0..3]));
        // Bottom-right is counts[1] = 0: escaping at once is the darkest colour, yet not the
        // black of points that never escape.
        assert!(lum(&rgb[9..12]) < lum(&rgb[0..3]));
        assert!(lum(&rgb[9..12]) > 0);
    }
}
