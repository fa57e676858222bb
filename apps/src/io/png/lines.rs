//! A line chart: one or more measured series of y against x, on linear or logarithmic y.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::{FONT, draw_err, register_fonts, write_rgb_png};
use crate::io::output::{OutputError, check_output_path};

/// One measured series.
#[derive(Clone, Debug, Default)]
pub struct LineSeries {
    /// Legend entry.
    pub label: String,
    /// The x of each point.
    pub x: Vec<f64>,
    /// The y of each point (points with a non-finite y are left out).
    pub y: Vec<f64>,
}

/// Titles, scale and size of a line chart.
#[derive(Clone, Debug)]
pub struct LineChart {
    /// Title above the chart.
    pub title: String,
    /// What x is, with its unit.
    pub x_label: String,
    /// What y is, with its unit.
    pub y_label: String,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
}

impl Default for LineChart {
    fn default() -> Self {
        LineChart {
            title: String::new(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_y: false,
            width: 1000,
            height: 640,
        }
    }
}

const COLOURS: [RGBColor; 5] = [
    RGBColor(76, 114, 176),
    RGBColor(221, 84, 52),
    RGBColor(85, 168, 104),
    RGBColor(129, 114, 178),
    RGBColor(204, 185, 116),
];

/// Draws the series and writes the PNG atomically.
///
/// ```
/// use mpiview_apps::io::png::{lines_png, LineChart, LineSeries};
/// let dir = tempfile::tempdir().unwrap();
/// let s = LineSeries { label: "apply".into(), x: vec![1.0, 2.0, 4.0], y: vec![2.0, 2.5, 3.1] };
/// let chart = LineChart { title: "latency".into(), ..LineChart::default() };
/// let path = lines_png(dir.path().join("l.png"), &[s], &chart).unwrap();
/// assert!(std::fs::metadata(path).unwrap().len() > 5_000);
/// ```
pub fn lines_png(
    path: impl AsRef<Path>,
    series: &[LineSeries],
    chart: &LineChart,
) -> Result<PathBuf, OutputError> {
    let path = path.as_ref();
    check_output_path(path)?;
    let (w, h) = (chart.width, chart.height);
    let mut buf = vec![0u8; w as usize * h as usize * 3];
    draw(&mut buf, series, chart).map_err(|e| draw_err(path, e))?;
    write_rgb_png(path, &buf, w, h)
}

fn points(s: &LineSeries) -> Vec<(f64, f64)> {
    s.x.iter()
        .copied()
        .zip(s.y.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect()
}

/// Draws the axes and grid of a chart context whose coordinates are linear or logarithmic (one
/// body for both coordinate types).
macro_rules! mesh {
    ($ch:expr, $chart:expr) => {
        $ch.configure_mesh()
            .x_desc($chart.x_label.as_str())
            .y_desc($chart.y_label.as_str())
            .label_style((FONT, 17).into_font().color(&RGBColor(60, 60, 60)))
            .axis_desc_style((FONT, 20).into_font().color(&RGBColor(30, 30, 30)))
            .bold_line_style(RGBColor(222, 222, 222))
            .light_line_style(TRANSPARENT)
            .axis_style(RGBColor(120, 120, 120))
            .draw()?
    };
}

fn draw(
    buf: &mut [u8],
    series: &[LineSeries],
    chart: &LineChart,
) -> Result<(), Box<dyn std::error::Error>> {
    register_fonts();
    let root = BitMapBackend::with_buffer(buf, (chart.width, chart.height)).into_drawing_area();
    root.fill(&WHITE)?;
    let all: Vec<(f64, f64)> = series.iter().flat_map(points).collect();
    let (mut x0, mut x1) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
    let (mut y0, mut y1) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    if all.is_empty() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(
            &chart.title,
            (FONT, 26).into_font().color(&RGBColor(30, 30, 30)),
        )
        .margin(22)
        .x_label_area_size(56)
        .y_label_area_size(80);
    let pad = (x1 - x0) * 0.04;
    if chart.log_y {
        let lo = (y0.max(f64::MIN_POSITIVE) / 1.5).max(1e-12);
        let mut ch =
            builder.build_cartesian_2d((x0 - pad)..(x1 + pad), (lo..y1 * 1.5).log_scale())?;
        mesh!(ch, chart);
        plot(&mut ch, series)?;
    } else {
        let top = if y1 > 0.0 { y1 * 1.1 } else { 1.0 };
        let mut ch = builder.build_cartesian_2d((x0 - pad)..(x1 + pad), 0.0..top)?;
        mesh!(ch, chart);
        plot(&mut ch, series)?;
    }
    root.present()?;
    Ok(())
}

fn plot<'a, X, Y>(
    ch: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    series: &[LineSeries],
) -> Result<(), Box<dyn std::error::Error>>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (k, s) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let line = colour.stroke_width(3);
        let pts = points(s);
        ch.draw_series(plotters::series::LineSeries::new(pts.clone(), line))?
            .label(&s.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], line));
        ch.draw_series(pts.into_iter().map(|p| Circle::new(p, 5, colour.filled())))?;
    }
    ch.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .margin(12)
        .legend_area_size(30)
        .label_font((FONT, 17).into_font().color(&RGBColor(30, 30, 30)))
        .background_style(WHITE.mix(0.92))
        .border_style(RGBColor(190, 190, 190))
        .draw()?;
    Ok(())
}
