//! A small SVG writer: stacked line-chart panels sharing one time axis.

use std::fmt::Write;

/// One line of a panel.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Stroke colour (any SVG colour).
    pub color: &'static str,
    /// `(x, y)` points, x ascending.
    pub points: Vec<(f64, f64)>,
}

/// One chart panel.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Title above the panel (with its unit).
    pub title: String,
    /// The lines.
    pub series: Vec<Series>,
}

const WIDTH: f64 = 900.0;
const PANEL_HEIGHT: f64 = 200.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const GAP: f64 = 60.0;

/// Renders the panels under `title`, x being seconds.
pub fn render(title: &str, panels: &[Panel]) -> String {
    let height = TOP + panels.len() as f64 * (PANEL_HEIGHT + GAP);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" font-size="16" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    let x_max = panels
        .iter()
        .flat_map(|p| p.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)))
        .fold(0.0f64, f64::max)
        .max(1.0);
    for (i, panel) in panels.iter().enumerate() {
        let top = TOP + i as f64 * (PANEL_HEIGHT + GAP) + 20.0;
        render_panel(&mut out, panel, top, x_max);
    }
    out.push_str("</svg>\n");
    out
}

fn render_panel(out: &mut String, panel: &Panel, top: f64, x_max: f64) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let bottom = top + PANEL_HEIGHT;
    let y_max = nice_ceiling(
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max),
    );
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{}" font-weight="bold">{}</text>"#,
        top - 6.0,
        escape(&panel.title)
    );
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_HEIGHT}" fill="none" stroke="#999"/>"##
    );
    for k in 0..=4 {
        let frac = f64::from(k) / 4.0;
        let y = bottom - frac * PANEL_HEIGHT;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            label(frac * y_max)
        );
        let x = LEFT + frac * plot_w;
        let _ = writeln!(
            out,
            r#"<text x="{x:.1}" y="{}" text-anchor="middle">{} s</text>"#,
            bottom + 16.0,
            label(frac * x_max)
        );
    }
    for (i, s) in panel.series.iter().enumerate() {
        let points: Vec<String> = s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| {
                let px = LEFT + x / x_max * plot_w;
                let py = bottom - (y / y_max).clamp(0.0, 1.0) * PANEL_HEIGHT;
                format!("{px:.1},{py:.1}")
            })
            .collect();
        if !points.is_empty() {
            let _ = writeln!(
                out,
                r#"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>"#,
                s.color,
                points.join(" ")
            );
        }
        let lx = LEFT + 10.0 + i as f64 * 220.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx}" y1="{0}" x2="{1}" y2="{0}" stroke="{2}" stroke-width="3"/><text x="{3}" y="{4}">{5}</text>"#,
            top + 14.0,
            lx + 16.0,
            s.color,
            lx + 20.0,
            top + 18.0,
            escape(&s.label)
        );
    }
}

/// The smallest 1/2/5×10^k at or above `v` (1 for zero or less).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * magnitude)
}

/// A short axis label.
fn label(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_panels_as_well_formed_svg() {
        let panels = vec![
            Panel {
                title: "packets/s".into(),
                series: vec![Series {
                    label: "a <b>".into(),
                    color: "steelblue",
                    points: vec![(0.0, 0.0), (1.0, 120.0), (2.0, f64::NAN), (3.0, 90.0)],
                }],
            },
            Panel {
                title: "empty".into(),
                series: vec![],
            },
        ];
        let svg = render("run & test", &panels);
        assert!(svg.starts_with("<svg "));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("run &amp; test"));
        assert!(svg.contains("a &lt;b&gt;"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        // 3 finite points; y of 120 is under the nice ceiling 200.
        let line = svg.lines().find(|l| l.starts_with("<polyline")).unwrap();
        assert_eq!(line.matches(',').count(), 3);
        // Every opened element is closed or self-closed.
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }

    #[test]
    fn axis_helpers() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(0.3), 0.5);
        assert_eq!(nice_ceiling(1000.0), 1000.0);
        assert_eq!(label(25_000.0), "25k");
        assert_eq!(label(0.25), "0.25");
        assert_eq!(label(42.0), "42");
    }
}
