//! A scaling chart: speedup and parallel efficiency against the number of engines, beside the
//! ideal lines, with the range where ranks outnumber cores shaded.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::{FONT, draw_err, register_fonts, write_rgb_png};
use crate::io::output::{OutputError, check_output_path};

/// One measured series (an app, or its SPMD baseline).
#[derive(Clone, Debug, Default)]
pub struct ScalingSeries {
    /// Legend entry.
    pub label: String,
    /// Engines (or workers) of each point.
    pub engines: Vec<f64>,
    /// Speedup relative to one engine at each point.
    pub speedup: Vec<f64>,
    /// Parallel efficiency at each point (1 is ideal).
    pub efficiency: Vec<f64>,
}

/// Titles and size of a scaling chart.
#[derive(Clone, Debug)]
pub struct ScalingChart {
    /// Title above both panels.
    pub title: String,
    /// What a speedup means here (`"strong scaling: T(1) / T(E)"`).
    pub speedup_label: String,
    /// What the efficiency means here.
    pub efficiency_label: String,
    /// Engines from which ranks outnumber the machine's cores (shaded), if any.
    pub oversubscribed_from: Option<f64>,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
}

impl Default for ScalingChart {
    fn default() -> Self {
        Self {
            title: "Scaling".into(),
            speedup_label: "speedup".into(),
            efficiency_label: "parallel efficiency".into(),
            oversubscribed_from: None,
            width: 1400,
            height: 620,
        }
    }
}

const COLOURS: [RGBColor; 4] = [
    RGBColor(76, 114, 176),
    RGBColor(221, 84, 52),
    RGBColor(85, 168, 104),
    RGBColor(129, 114, 178),
];

/// Draws the chart (speedup panel left, efficiency panel right) and writes the PNG atomically.
///
/// ```
/// use mpiview_apps::io::png::{scaling_png, ScalingChart, ScalingSeries};
/// let dir = tempfile::tempdir().unwrap();
/// let s = ScalingSeries {
///     label: "trapz".into(),
///     engines: vec![1.0, 2.0, 4.0],
///     speedup: vec![1.0, 1.9, 3.2],
///     efficiency: vec![1.0, 0.95, 0.8],
/// };
/// let chart = ScalingChart { oversubscribed_from: Some(3.0), ..ScalingChart::default() };
/// let path = scaling_png(dir.path().join("s.png"), &[s], &chart).unwrap();
/// assert!(std::fs::metadata(path).unwrap().len() > 10_000);
/// ```
pub fn scaling_png(
    path: impl AsRef<Path>,
    series: &[ScalingSeries],
    chart: &ScalingChart,
) -> Result<PathBuf, OutputError> {
    let path = path.as_ref();
    check_output_path(path)?;
    let (w, h) = (chart.width, chart.height);
    let mut buf = vec![0u8; w as usize * h as usize * 3];
    draw(&mut buf, series, chart).map_err(|e| draw_err(path, e))?;
    write_rgb_png(path, &buf, w, h)
}

fn draw(
    buf: &mut [u8],
    series: &[ScalingSeries],
    chart: &ScalingChart,
) -> Result<(), Box<dyn std::error::Error>> {
    register_fonts();
    let root = BitMapBackend::with_buffer(buf, (chart.width, chart.height)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &chart.title,
        (FONT, 30).into_font().color(&RGBColor(30, 30, 30)),
    )?;
    let (left, right) = root.split_horizontally(chart.width / 2);
    let max_e = series
        .iter()
        .flat_map(|s| s.engines.iter().copied())
        .fold(1.0f64, f64::max);
    let max_s = series
        .iter()
        .flat_map(|s| s.speedup.iter().copied())
        .filter(|v| v.is_finite())
        .fold(max_e, f64::max);
    let max_eff = series
        .iter()
        .flat_map(|s| s.efficiency.iter().copied())
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max);
    panel(
        &left,
        series,
        chart,
        (max_e, max_s * 1.08),
        &chart.speedup_label,
        |s| &s.speedup,
        |e| e,
    )?;
    panel(
        &right,
        series,
        chart,
        (max_e, max_eff * 1.15),
        &chart.efficiency_label,
        |s| &s.efficiency,
        |_| 1.0,
    )?;
    root.present()?;
    Ok(())
}

fn panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    series: &[ScalingSeries],
    chart: &ScalingChart,
    (max_x, max_y): (f64, f64),
    y_label: &str,
    values: impl Fn(&ScalingSeries) -> &Vec<f64>,
    ideal: impl Fn(f64) -> f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let x_hi = max_x + 0.5;
    let mut ch = ChartBuilder::on(area)
        .margin(22)
        .x_label_area_size(56)
        .y_label_area_size(70)
        .build_cartesian_2d(0.5..x_hi, 0.0..max_y)?;
    // Engines are whole numbers: one tick per engine count (at most 16 labels).
    let ticks = (max_x.round() as usize + 1).min(16);
    ch.configure_mesh()
        .x_desc("engines")
        .y_desc(y_label)
        .x_labels(ticks)
        .x_label_formatter(&|v| {
            if (v - v.round()).abs() < 1e-9 {
                format!("{}", v.round())
            } else {
                String::new()
            }
        })
        .y_labels(8)
        .label_style((FONT, 17).into_font().color(&RGBColor(60, 60, 60)))
        .axis_desc_style((FONT, 20).into_font().color(&RGBColor(30, 30, 30)))
        .bold_line_style(RGBColor(222, 222, 222))
        .light_line_style(TRANSPARENT)
        .axis_style(RGBColor(120, 120, 120))
        .draw()?;
    if let Some(from) = chart.oversubscribed_from {
        let shade = RGBColor(250, 225, 200).mix(0.6).filled();
        ch.draw_series(std::iter::once(Rectangle::new(
            [(from - 0.5, 0.0), (x_hi, max_y)],
            shade,
        )))?
        .label("more ranks than cores")
        .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 22, y + 7)], shade));
    }
    let grey = RGBColor(120, 120, 120).stroke_width(2);
    ch.draw_series(LineSeries::new(
        (0..=40).map(|i| {
            let x = 1.0 + (max_x - 1.0) * f64::from(i) / 40.0;
            (x, ideal(x))
        }),
        grey,
    ))?
    .label("ideal")
    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], grey));
    for (k, s) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let points: Vec<(f64, f64)> = s
            .engines
            .iter()
            .copied()
            .zip(values(s).iter().copied())
            .filter(|(_, v)| v.is_finite())
            .collect();
        let line = colour.stroke_width(3);
        ch.draw_series(LineSeries::new(points.clone(), line))?
            .label(&s.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], line));
        ch.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 5, colour.filled())),
        )?;
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
