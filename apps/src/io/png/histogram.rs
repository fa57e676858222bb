//! A histogram drawn as a density, with the exact density over it.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::{FONT, draw_err, register_fonts, stage_rgb_png};
use crate::io::output::{OutputError, Staged, check_output_path};
use crate::kernels::maxnormal::Histogram;

/// Text and size of a histogram chart.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramChart {
    /// Title above the plot.
    pub title: String,
    /// Horizontal axis label.
    pub x_label: String,
    /// Vertical axis label.
    pub y_label: String,
    /// Legend entry for the bars.
    pub bars_label: String,
    /// Legend entry for the exact density.
    pub curve_label: String,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
}

impl Default for HistogramChart {
    fn default() -> Self {
        Self {
            title: "Histogram".into(),
            x_label: "x".into(),
            y_label: "density".into(),
            bars_label: "samples".into(),
            curve_label: "exact density".into(),
            width: 1000,
            height: 640,
        }
    }
}

/// Draws `hist` as a density (bar areas sum to the fraction of samples inside the edges) with
/// `exact` drawn over it as a line, and writes the PNG atomically.
///
/// ```
/// use mpiview_apps::io::png::{histogram_png, HistogramChart};
/// use mpiview_apps::kernels::maxnormal::{density, exact_edges, samples, Histogram};
/// let dir = tempfile::tempdir().unwrap();
/// let mut h = Histogram::new(exact_edges(10, 60));
/// h.fill(&samples(1, 10, 0..20_000));
/// let chart = HistogramChart { title: "Max of 10 normals".into(), ..Default::default() };
/// let path = histogram_png(dir.path().join("h.png"), &h, Some(&|x| density(10, x)), &chart).unwrap();
/// assert!(std::fs::metadata(path).unwrap().len() > 10_000);
/// ```
pub fn histogram_png(
    path: impl AsRef<Path>,
    hist: &Histogram,
    exact: Option<&dyn Fn(f64) -> f64>,
    chart: &HistogramChart,
) -> Result<PathBuf, OutputError> {
    histogram_png_staged(path, hist, exact, chart)?.commit()
}

/// As [`histogram_png`], leaving the complete file under its temporary name for
/// [`commit_all`](crate::io::output::commit_all).
///
/// ```
/// use mpiview_apps::io::png::{histogram_png_staged, HistogramChart};
/// use mpiview_apps::kernels::maxnormal::{exact_edges, samples, Histogram};
/// let dir = tempfile::tempdir().unwrap();
/// let mut h = Histogram::new(exact_edges(3, 20));
/// h.fill(&samples(1, 3, 0..1000));
/// let path = dir.path().join("h.png");
/// let staged = histogram_png_staged(&path, &h, None, &HistogramChart::default()).unwrap();
/// assert!(!path.exists());
/// assert_eq!(staged.commit().unwrap(), path);
/// ```
pub fn histogram_png_staged(
    path: impl AsRef<Path>,
    hist: &Histogram,
    exact: Option<&dyn Fn(f64) -> f64>,
    chart: &HistogramChart,
) -> Result<Staged, OutputError> {
    let path = path.as_ref();
    check_output_path(path)?;
    let (w, h) = (chart.width, chart.height);
    let mut buf = vec![0u8; w as usize * h as usize * 3];
    draw(&mut buf, hist, exact, chart).map_err(|e| draw_err(path, e))?;
    stage_rgb_png(path, &buf, w, h)
}

fn draw(
    buf: &mut [u8],
    hist: &Histogram,
    exact: Option<&dyn Fn(f64) -> f64>,
    chart: &HistogramChart,
) -> Result<(), Box<dyn std::error::Error>> {
    register_fonts();
    let root = BitMapBackend::with_buffer(buf, (chart.width, chart.height)).into_drawing_area();
    root.fill(&WHITE)?;

    let edges = &hist.edges;
    let (x0, x1) = (edges[0], edges[edges.len() - 1]);
    let dens = hist.density();
    let curve: Option<Vec<(f64, f64)>> = exact.map(|f| {
        (0..=800)
            .map(|i| {
                let x = x0 + (x1 - x0) * f64::from(i) / 800.0;
                (x, f(x))
            })
            .filter(|(_, y)| y.is_finite())
            .collect()
    });
    let top = dens
        .iter()
        .copied()
        .chain(curve.iter().flatten().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.12 } else { 1.0 };

    let mut ch = ChartBuilder::on(&root)
        .caption(
            &chart.title,
            (FONT, 30).into_font().color(&RGBColor(30, 30, 30)),
        )
        .margin(24)
        .x_label_area_size(58)
        .y_label_area_size(78)
        .build_cartesian_2d(x0..x1, 0.0..top)?;
    ch.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_labels(12)
        .y_labels(8)
        .x_label_formatter(&|v| trim(*v))
        .y_label_formatter(&|v| trim(*v))
        .label_style((FONT, 18).into_font().color(&RGBColor(60, 60, 60)))
        .axis_desc_style((FONT, 21).into_font().color(&RGBColor(30, 30, 30)))
        .bold_line_style(RGBColor(222, 222, 222))
        .light_line_style(TRANSPARENT)
        .axis_style(RGBColor(120, 120, 120))
        .draw()?;

    let bar = RGBColor(76, 114, 176);
    let fill = bar.mix(0.55).filled();
    ch.draw_series(
        dens.iter()
            .zip(edges.windows(2))
            .map(|(d, e)| Rectangle::new([(e[0], 0.0), (e[1], *d)], fill)),
    )?
    .label(&chart.bars_label)
    .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 22, y + 7)], fill));
    ch.draw_series(
        dens.iter()
            .zip(edges.windows(2))
            .map(|(d, e)| Rectangle::new([(e[0], 0.0), (e[1], *d)], bar.mix(0.9).stroke_width(1))),
    )?;
    if let Some(curve) = curve {
        let line = RGBColor(221, 84, 52).stroke_width(3);
        ch.draw_series(LineSeries::new(curve, line))?
            .label(&chart.curve_label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], line));
    }
    ch.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .margin(14)
        .legend_area_size(30)
        .label_font((FONT, 19).into_font().color(&RGBColor(30, 30, 30)))
        .background_style(WHITE.mix(0.92))
        .border_style(RGBColor(190, 190, 190))
        .draw()?;
    root.present()?;
    Ok(())
}

/// A tick label without trailing zeros (`0.5`, `1`, `0.125`).
fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(trim(0.5), "0.5");
        assert_eq!(trim(2.0), "2");
        assert_eq!(trim(-0.0001), "0");
        assert_eq!(trim(0.125), "0.125");
    }
}
