//! Small line and scatter plots written as PNG (pixels, via the `png` crate) and SVG (with
//! title, axis labels and legend as text), with no system libraries or fonts needed.

use std::io::BufWriter;
use std::path::Path;

/// One data series.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// `(x, y)` points, drawn in order.
    pub points: Vec<(f64, f64)>,
    /// RGB colour.
    pub color: [u8; 3],
    /// Joined by lines (true) or drawn as dots (false).
    pub line: bool,
}

/// A plot: series on shared axes.
#[derive(Debug, Clone)]
pub struct Plot {
    /// Title (SVG only).
    pub title: String,
    /// Horizontal axis label (SVG only).
    pub x_label: String,
    /// Vertical axis label (SVG only).
    pub y_label: String,
    /// The series.
    pub series: Vec<Series>,
    /// Same scale on both axes (for trajectories).
    pub equal_aspect: bool,
    /// Logarithmic vertical axis (for loss curves); non-positive values are left out.
    pub log_y: bool,
}

/// Colours of the first series: blue, orange, green, red (matplotlib's defaults).
pub const COLORS: [[u8; 3]; 4] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40]];

const WIDTH: usize = 800;
const HEIGHT: usize = 600;
const MARGIN: f64 = 60.0;

impl Plot {
    fn transformed(&self) -> Vec<Vec<(f64, f64)>> {
        self.series
            .iter()
            .map(|s| {
                s.points
                    .iter()
                    .filter(|(x, y)| x.is_finite() && y.is_finite() && (!self.log_y || *y > 0.0))
                    .map(|&(x, y)| (x, if self.log_y { y.log10() } else { y }))
                    .collect()
            })
            .collect()
    }

    /// Data → pixel mapping: `(x0, x1, y0, y1)` bounds.
    fn bounds(data: &[Vec<(f64, f64)>], equal: bool) -> (f64, f64, f64, f64) {
        let all = data.iter().flatten();
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in all {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            return (0.0, 1.0, 0.0, 1.0);
        }
        let pad = |lo: f64, hi: f64| {
            let span = (hi - lo).max(1e-12);
            (lo - 0.05 * span, hi + 0.05 * span)
        };
        let (mut x0, mut x1) = pad(x0, x1);
        let (mut y0, mut y1) = pad(y0, y1);
        if equal {
            let w = WIDTH as f64 - 2.0 * MARGIN;
            let h = HEIGHT as f64 - 2.0 * MARGIN;
            let scale = ((x1 - x0) / w).max((y1 - y0) / h);
            let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
            (x0, x1) = (cx - scale * w / 2.0, cx + scale * w / 2.0);
            (y0, y1) = (cy - scale * h / 2.0, cy + scale * h / 2.0);
        }
        (x0, x1, y0, y1)
    }

    fn to_pixels(b: (f64, f64, f64, f64), (x, y): (f64, f64)) -> (f64, f64) {
        let (x0, x1, y0, y1) = b;
        let px = MARGIN + (x - x0) / (x1 - x0) * (WIDTH as f64 - 2.0 * MARGIN);
        let py = HEIGHT as f64 - MARGIN - (y - y0) / (y1 - y0) * (HEIGHT as f64 - 2.0 * MARGIN);
        (px, py)
    }

    /// Writes `<stem>.png` and `<stem>.svg`.
    pub fn save(&self, stem: &Path) -> std::io::Result<()> {
        let data = self.transformed();
        let b = Self::bounds(&data, self.equal_aspect);
        self.save_png(&stem.with_extension("png"), &data, b)?;
        std::fs::write(stem.with_extension("svg"), self.svg(&data, b))
    }

    fn save_png(
        &self,
        path: &Path,
        data: &[Vec<(f64, f64)>],
        b: (f64, f64, f64, f64),
    ) -> std::io::Result<()> {
        let mut pixels = vec![255u8; WIDTH * HEIGHT * 3];
        let mut put = |x: i64, y: i64, c: [u8; 3]| {
            if (0..WIDTH as i64).contains(&x) && (0..HEIGHT as i64).contains(&y) {
                let i = (y as usize * WIDTH + x as usize) * 3;
                pixels[i..i + 3].copy_from_slice(&c);
            }
        };
        // Frame.
        let gray = [120, 120, 120];
        let (l, r) = (MARGIN as i64, (WIDTH as f64 - MARGIN) as i64);
        let (t, bt) = (MARGIN as i64, (HEIGHT as f64 - MARGIN) as i64);
        for x in l..=r {
            put(x, t, gray);
            put(x, bt, gray);
        }
        for y in t..=bt {
            put(l, y, gray);
            put(r, y, gray);
        }
        for (series, points) in self.series.iter().zip(data) {
            let px: Vec<(f64, f64)> = points.iter().map(|&p| Self::to_pixels(b, p)).collect();
            let mut dot = |(x, y): (f64, f64), radius: i64| {
                for dx in -radius..=radius {
                    for dy in -radius..=radius {
                        if dx * dx + dy * dy <= radius * radius {
                            put(x.round() as i64 + dx, y.round() as i64 + dy, series.color);
                        }
                    }
                }
            };
            if series.line {
                for pair in px.windows(2) {
                    let (a, c) = (pair[0], pair[1]);
                    let steps = ((c.0 - a.0).abs().max((c.1 - a.1).abs()).ceil() as usize).max(1);
                    for k in 0..=steps {
                        let f = k as f64 / steps as f64;
                        dot((a.0 + f * (c.0 - a.0), a.1 + f * (c.1 - a.1)), 1);
                    }
                }
                if px.len() == 1 {
                    dot(px[0], 2);
                }
            } else {
                for &p in &px {
                    dot(p, 2);
                }
            }
        }
        // Legend: one colour swatch per labelled series, top left (labels are in the SVG).
        for (k, series) in self
            .series
            .iter()
            .filter(|s| !s.label.is_empty())
            .enumerate()
        {
            for x in 0..16 {
                for y in 0..8 {
                    put(l + 10 + x, t + 10 + 14 * k as i64 + y, series.color);
                }
            }
        }
        let file = std::fs::File::create(path)?;
        let mut encoder = png::Encoder::new(BufWriter::new(file), WIDTH as u32, HEIGHT as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer
            .write_image_data(&pixels)
            .map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)
    }

    fn svg(&self, data: &[Vec<(f64, f64)>], b: (f64, f64, f64, f64)) -> String {
        let escape = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
             font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        );
        let (l, r, t, bt) = (
            MARGIN,
            WIDTH as f64 - MARGIN,
            MARGIN,
            HEIGHT as f64 - MARGIN,
        );
        out += &format!(
            "<rect x=\"{l}\" y=\"{t}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#777\"/>\n",
            r - l,
            bt - t
        );
        out += &format!(
            "<text x=\"{}\" y=\"30\" text-anchor=\"middle\" font-size=\"16\">{}</text>\n",
            WIDTH / 2,
            escape(&self.title)
        );
        out += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            WIDTH / 2,
            HEIGHT - 15,
            escape(&self.x_label)
        );
        out += &format!(
            "<text x=\"18\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {})\">{}</text>\n",
            HEIGHT / 2,
            HEIGHT / 2,
            escape(&self.y_label)
        );
        let (x0, x1, y0, y1) = b;
        for k in 0..=4 {
            let f = k as f64 / 4.0;
            let xv = x0 + f * (x1 - x0);
            let yv = y0 + f * (y1 - y0);
            let ytext = if self.log_y {
                format!("1e{yv:.1}")
            } else {
                format!("{yv:.3}")
            };
            out += &format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\">{xv:.3}</text>\n",
                l + f * (r - l),
                bt + 16.0
            );
            out += &format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\">{ytext}</text>\n",
                l - 4.0,
                bt - f * (bt - t) + 4.0
            );
        }
        let mut legend = 0usize;
        for (series, points) in self.series.iter().zip(data) {
            let [cr, cg, cb] = series.color;
            let color = format!("rgb({cr},{cg},{cb})");
            let px: Vec<String> = points
                .iter()
                .map(|&p| {
                    let (x, y) = Self::to_pixels(b, p);
                    format!("{x:.1},{y:.1}")
                })
                .collect();
            if series.line {
                out += &format!(
                    "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n",
                    px.join(" ")
                );
            } else {
                for p in &px {
                    let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                    out += &format!("<circle cx=\"{x}\" cy=\"{y}\" r=\"2\" fill=\"{color}\"/>\n");
                }
            }
            if series.label.is_empty() {
                continue; // unlabelled series (one of many lines of a class) have no legend entry
            }
            let ly = t + 18.0 + 16.0 * legend as f64;
            legend += 1;
            out += &format!(
                "<rect x=\"{}\" y=\"{}\" width=\"16\" height=\"8\" fill=\"{color}\"/>\
                 <text x=\"{}\" y=\"{}\">{}</text>\n",
                l + 10.0,
                ly - 8.0,
                l + 32.0,
                ly,
                escape(&series.label)
            );
        }
        out + "</svg>\n"
    }
}
