//! `trailq report`: one self-contained HTML page of an investigation, built from the saved
//! queries' answers and the detections' findings. Everything is inside the file (CSS, SVG
//! charts drawn here, no script, no font or image from anywhere), so it opens offline from disk
//! and prints.
//!
//! The numbers on the page are the queries' own answers, cell for cell: each table says which
//! saved query it shows (`data-query`), so a test can hold the page against `queries run`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use trailq_events::time::{format_micros, parse_timestamp_micros};

use crate::detect::Finding;
use crate::library::Severity;

/// A saved query's answer: its columns and Lake's rendered values.
pub struct Rows<'a> {
    pub query: &'a str,
    pub title: &'a str,
    pub names: &'a [String],
    pub rows: &'a [Vec<Option<String>>],
    /// Columns not shown (the principal, in a timeline headed by it).
    pub hide: &'a [&'a str],
}

impl Rows<'_> {
    fn column(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
    fn cell<'r>(&self, row: &'r [Option<String>], name: &str) -> Option<&'r str> {
        self.column(name)
            .and_then(|i| row.get(i))
            .and_then(|v| v.as_deref())
    }
}

/// One principal's timeline (`principal-write-timeline`).
pub struct Timeline<'a> {
    pub principal: &'a str,
    /// The worst finding it is behind, if any.
    pub worst: Option<Severity>,
    pub rows: Rows<'a>,
}

/// What the page shows.
pub struct Report<'a> {
    pub window: (i64, i64),
    /// Where the events came from: the dataset folder or the event data store.
    pub source: &'a str,
    pub version: &'a str,
    pub generated_micros: i64,
    pub findings: &'a [Finding],
    /// `activity-by-account-region`.
    pub activity: Rows<'a>,
    pub timelines: Vec<Timeline<'a>>,
    /// Context tables: first-seen principals, top callers, source IPs…
    pub context: Vec<Rows<'a>>,
}

const CSS: &str = r#"
:root { --ink:#0f172a; --muted:#475569; --rule:#e2e8f0; --bg:#f8fafc;
  --critical:#991b1b; --high:#c2410c; --medium:#a16207; --low:#1d4ed8; --informational:#475569; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; color:var(--ink); background:#fff; }
header { background:var(--ink); color:#fff; padding:28px 40px 24px; }
header h1 { margin:0 0 4px; font-size:24px; font-weight:650; letter-spacing:-0.01em; }
header p { margin:0; color:#cbd5e1; }
main { max-width:1180px; margin:0 auto; padding:8px 40px 40px; }
h2 { font-size:18px; margin:36px 0 4px; padding-bottom:6px; border-bottom:2px solid var(--ink); }
h3 { font-size:15px; margin:22px 0 6px; }
p.lead { color:var(--muted); margin:4px 0 14px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:12px; margin:22px 0 8px; }
.card { border:1px solid var(--rule); border-radius:8px; padding:12px 14px; background:var(--bg); }
.card b { display:block; font-size:26px; line-height:1.2; font-variant-numeric:tabular-nums; }
.card span { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card.sev b { color:var(--c); } .card.sev { border-top:4px solid var(--c); }
.badge { display:inline-block; white-space:nowrap; min-width:104px; text-align:center; padding:1px 8px; border-radius:10px; color:#fff; font-size:11px; font-weight:650; text-transform:uppercase; letter-spacing:.05em; background:var(--c); }
table { width:100%; border-collapse:collapse; margin:6px 0 10px; font-size:12.5px; }
th { text-align:left; font-weight:600; color:var(--muted); border-bottom:1px solid #cbd5e1; padding:5px 8px; white-space:nowrap; }
td { border-bottom:1px solid var(--rule); padding:5px 8px; vertical-align:top; overflow-wrap:break-word; }
td.id, td.mono { overflow-wrap:anywhere; }
tbody tr:nth-child(even) td { background:#fbfdff; }
td[data-column=userAgent] { font-size:11px; color:var(--muted); min-width:200px; max-width:280px; }
.line { display:block; } .sub { color:var(--muted); font-size:11.5px; } .strong { font-weight:600; }
.err { color:#b91c1c; font-size:11.5px; }
table.timeline td:nth-child(5) { max-width:320px; }
details summary { cursor:pointer; color:var(--muted); margin:8px 0; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.time { white-space:nowrap; font-variant-numeric:tabular-nums; }
.mono, td.id { font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace; font-size:11.5px; }
.finding { border:1px solid var(--rule); border-left:5px solid var(--c); border-radius:6px; padding:10px 14px; margin:10px 0; break-inside:avoid; }
.finding .what { font-weight:600; }
.finding dl { display:grid; grid-template-columns:110px 1fr; gap:2px 12px; margin:8px 0 0; font-size:12.5px; }
.finding dt { color:var(--muted); } .finding dd { margin:0; overflow-wrap:anywhere; }
.chart { width:100%; height:auto; border:1px solid var(--rule); border-radius:8px; background:#fff; }
.legend { color:var(--muted); font-size:12px; margin:6px 0 0; }
.legend i { display:inline-block; width:10px; height:10px; margin:0 4px 0 14px; vertical-align:-1px; }
footer { color:var(--muted); font-size:12px; border-top:1px solid var(--rule); margin-top:40px; padding-top:10px; }
.none { color:var(--muted); font-style:italic; }
@media print { header { -webkit-print-color-adjust:exact; print-color-adjust:exact; }
  .badge, .card, .finding, .chart { -webkit-print-color-adjust:exact; print-color-adjust:exact; }
  main { padding:0 12px; } h2 { break-after:avoid; } tr { break-inside:avoid; } }
@page { margin:14mm; }
"#;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn color(severity: Severity) -> String {
    format!("var(--{})", severity.name())
}

/// A Lake time (`2026-11-20 10:00:00.000`) the way typed results print it (`2026-11-20T10:00:00Z`).
fn time_text(value: &str) -> String {
    parse_timestamp_micros(value).map_or_else(|| value.to_owned(), format_micros)
}

fn is_time_column(name: &str) -> bool {
    name == "eventTime" || name == "day" || name.ends_with("_call") || name.ends_with("_error")
}

fn is_number(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

/// A saved query's answer as a table; `limit` rows at most (the rest counted below it).
fn table(out: &mut String, rows: &Rows, limit: usize) {
    if rows.rows.is_empty() {
        let _ = writeln!(out, "<p class=\"none\">No rows in the window.</p>");
        return;
    }
    let _ = writeln!(out, "<table data-query=\"{}\"><thead><tr>", esc(rows.query));
    let shown = |name: &String| !rows.hide.contains(&name.as_str());
    for name in rows.names.iter().filter(|n| shown(n)) {
        let _ = write!(out, "<th>{}</th>", esc(name));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in rows.rows.iter().take(limit) {
        out.push_str("<tr>");
        for (name, value) in rows.names.iter().zip(row).filter(|(n, _)| shown(n)) {
            let value = value.as_deref().unwrap_or("");
            let (class, text) = if is_time_column(name) {
                ("time", time_text(value))
            } else if is_number(value) {
                ("num", value.to_owned())
            } else if name == "eventID" || name == "event_ids" {
                ("id", value.to_owned())
            } else {
                ("", value.to_owned())
            };
            let _ = write!(
                out,
                "<td class=\"{class}\" data-column=\"{}\">{}</td>",
                esc(name),
                esc(&text)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    if rows.rows.len() > limit {
        let _ = writeln!(
            out,
            "<p class=\"legend\">The first {limit} of {} rows; <span class=\"mono\">trailq queries run {}</span> gives them all.</p>",
            rows.rows.len(),
            esc(rows.query)
        );
    }
}

/// A principal's timeline, its columns stacked so that a row reads as a sentence: when, where,
/// what (and whether it failed), on what, from where and with which tool, which event. Each value
/// still names its column (`data-column`).
fn timeline_table(out: &mut String, rows: &Rows) {
    if rows.rows.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"none\">No change or failed call in the window.</p>"
        );
        return;
    }
    let _ = writeln!(
        out,
        "<table class=\"timeline\" data-query=\"{}\"><thead><tr><th>eventTime</th><th>where</th><th>what</th><th>name · action</th><th>from</th><th>eventID</th></tr></thead><tbody>",
        esc(rows.query)
    );
    for row in rows.rows {
        let span = |name: &str, class: &str| -> String {
            match rows.cell(row, name) {
                Some(v) if !v.is_empty() => format!(
                    "<span class=\"{class}\" data-column=\"{name}\">{}</span>",
                    esc(&if is_time_column(name) {
                        time_text(v)
                    } else {
                        v.to_owned()
                    })
                ),
                _ => String::new(),
            }
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"time\">{}</td><td class=\"time\">{}{}</td><td>{}{}{}</td><td>{}{}</td><td>{}{}</td><td class=\"id\">{}</td></tr>",
            span("eventTime", ""),
            span("recipientAccountId", "line"),
            span("awsRegion", "line sub"),
            span("eventName", "line strong"),
            span("errorCode", "line err"),
            span("eventSource", "line sub"),
            span("name", "line"),
            span("action", "line sub"),
            span("sourceIPAddress", "line"),
            span("userAgent", "line sub"),
            span("eventID", ""),
        );
    }
    out.push_str("</tbody></table>\n");
}

const DAY: i64 = 86_400_000_000;

/// One account-Region's days: day → (calls, changes, errors).
type Strip = BTreeMap<i64, (u64, u64, u64)>;

/// Inspector calls per day for each account and Region, changes and errors marked, findings
/// as triangles at their time.
fn activity_chart(out: &mut String, report: &Report) {
    let activity = &report.activity;
    let (start, end) = report.window;
    let first_day = start.div_euclid(DAY);
    let days = ((end - 1).div_euclid(DAY) - first_day + 1).max(1);
    let mut strips: BTreeMap<(String, String), Strip> = BTreeMap::new();
    for row in activity.rows {
        let get = |name| activity.cell(row, name).unwrap_or("");
        let Some(day) = parse_timestamp_micros(get("day")) else {
            continue;
        };
        let n = |name| get(name).parse::<u64>().unwrap_or(0);
        strips
            .entry((
                get("recipientAccountId").to_owned(),
                get("awsRegion").to_owned(),
            ))
            .or_default()
            .insert(day.div_euclid(DAY), (n("calls"), n("changes"), n("errors")));
    }
    for f in report.findings {
        strips
            .entry((f.account.clone(), f.region.clone()))
            .or_default();
    }
    if strips.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"none\">No Inspector activity in the window.</p>"
        );
        return;
    }
    let max = strips
        .values()
        .flat_map(|s| s.values().map(|v| v.0))
        .max()
        .unwrap_or(1)
        .max(1);
    let (left, right, strip_h, top) = (190.0, 1140.0, 54.0, 10.0);
    let width = right + 20.0;
    let height = top + strip_h * strips.len() as f64 + 34.0;
    let x = |micros: i64| {
        left + (micros - first_day * DAY) as f64 / (days * DAY) as f64 * (right - left)
    };
    let bar_w = ((right - left) / days as f64 - 1.0).max(1.0);
    let _ = writeln!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"Inspector calls per day by account and Region\" font-family=\"system-ui,sans-serif\" font-size=\"11\">"
    );
    for (i, ((account, region), days_of)) in strips.iter().enumerate() {
        let y0 = top + strip_h * i as f64;
        let base = y0 + strip_h - 10.0;
        let scale = (strip_h - 20.0) / max as f64;
        let total: u64 = days_of.values().map(|v| v.0).sum();
        let _ = writeln!(
            out,
            "<g data-account=\"{}\" data-region=\"{}\" data-calls=\"{total}\"><text x=\"8\" y=\"{:.1}\" fill=\"#0f172a\" font-weight=\"600\">{}</text><text x=\"8\" y=\"{:.1}\" fill=\"#475569\">{} · {} calls</text><line x1=\"{left}\" x2=\"{right}\" y1=\"{base:.1}\" y2=\"{base:.1}\" stroke=\"#e2e8f0\"/>",
            esc(account),
            esc(region),
            y0 + 22.0,
            esc(account),
            y0 + 37.0,
            esc(region),
            total
        );
        for (day, (calls, changes, errors)) in days_of {
            let bx = x(day * DAY);
            let h = *calls as f64 * scale;
            let _ = write!(
                out,
                "<rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\" fill=\"#94a3b8\"><title>{}: {calls} calls, {changes} changes, {errors} errors</title></rect>",
                base - h,
                format_micros(day * DAY).get(..10).unwrap_or("")
            );
            if *changes > 0 {
                let ch = (*changes as f64 * scale).max(2.0);
                let _ = write!(
                    out,
                    "<rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{ch:.1}\" fill=\"#0f172a\"/>",
                    base - ch
                );
            }
            if *errors > 0 {
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.2\" fill=\"#dc2626\"/>",
                    bx + bar_w / 2.0,
                    base + 5.0
                );
            }
        }
        for f in report.findings.iter().filter(|f| {
            &f.account == account && &f.region == region && f.severity >= Severity::Medium
        }) {
            let fx = x(f.time_micros);
            let _ = write!(
                out,
                "<path d=\"M{:.1} {:.1} l6 10 h-12 z\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"0.8\"><title>{} {}: {}</title></path>",
                fx,
                y0 + 2.0,
                color(f.severity),
                f.severity.name(),
                esc(&f.time),
                esc(&f.title)
            );
        }
        out.push_str("</g>\n");
    }
    // Month ticks along the bottom.
    let axis = top + strip_h * strips.len() as f64 + 4.0;
    let mut day = first_day;
    while day < first_day + days {
        let date = format_micros(day * DAY);
        // The first of each month (and the first day), unless too close to the right edge.
        let at = x(day * DAY);
        if (date.get(8..10) == Some("01") || day == first_day) && at < right - 60.0 {
            let _ = write!(
                out,
                "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{top}\" y2=\"{1:.1}\" stroke=\"#cbd5e1\" stroke-dasharray=\"2 3\"/><text x=\"{0:.1}\" y=\"{2:.1}\" fill=\"#475569\">{3}</text>",
                at,
                axis,
                axis + 16.0,
                date.get(..10).unwrap_or("")
            );
        }
        day += 1;
    }
    out.push_str("</svg>\n");
    let _ = writeln!(
        out,
        "<p class=\"legend\"><i style=\"background:#94a3b8\"></i>calls a day<i style=\"background:#0f172a\"></i>changes<i style=\"background:#dc2626;border-radius:5px\"></i>errors that day<i style=\"background:var(--critical)\"></i>a finding of medium severity or above (coloured by severity)</p>"
    );
}

fn finding_block(out: &mut String, f: &Finding) {
    let _ = writeln!(
        out,
        "<div class=\"finding\" style=\"--c:{}\" data-finding=\"{}\" data-detection=\"{}\" data-severity=\"{}\"><span class=\"badge\">{}</span> <span class=\"what\">{}</span> <span class=\"mono\">({})</span>",
        color(f.severity),
        esc(&f.id),
        esc(&f.detection),
        f.severity.name(),
        f.severity.name(),
        esc(&f.title),
        esc(&f.detection)
    );
    let _ = writeln!(
        out,
        "<dl><dt>When</dt><dd>{}</dd><dt>Who</dt><dd class=\"mono\">{}</dd><dt>Where</dt><dd>account {}, {}</dd><dt>Events</dt><dd class=\"mono\" data-events>{}</dd>",
        esc(&f.time),
        esc(&f.actor),
        esc(&f.account),
        esc(&f.region),
        esc(&f.event_ids.join(", "))
    );
    for (name, value) in &f.fields {
        let skip = matches!(
            name.as_str(),
            "eventTime" | "recipientAccountId" | "awsRegion" | "eventID" | "event_ids" | "severity"
        ) || value.is_none();
        if skip {
            continue;
        }
        let value = value.as_deref().unwrap_or("");
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(name), esc(value));
    }
    let attack: Vec<String> = f
        .attack
        .iter()
        .map(|t| match &t.version {
            Some(v) => format!("{} {} ({v})", t.id, t.name),
            None => format!("{} {}", t.id, t.name),
        })
        .collect();
    if !attack.is_empty() {
        let _ = writeln!(
            out,
            "<dt>ATT&amp;CK</dt><dd>{}</dd>",
            esc(&attack.join("; "))
        );
    }
    out.push_str("</dl></div>\n");
}

/// The page.
pub fn html(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let (start, end) = report.window;
    let window = format!("{} to {}", format_micros(start), format_micros(end));
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"generator\" content=\"trailq {}\"><title>Amazon Inspector activity: {}</title><style>{CSS}</style></head><body>",
        esc(report.version),
        esc(&window)
    );
    let _ = writeln!(
        out,
        "<header><h1>Amazon Inspector: who changed what, and what to look at</h1><p>{} · {}</p></header><main>",
        esc(&window),
        esc(report.source)
    );

    // At a glance.
    let sum = |name: &str| -> u64 {
        report
            .activity
            .rows
            .iter()
            .filter_map(|r| report.activity.cell(r, name))
            .filter_map(|v| v.parse::<u64>().ok())
            .sum()
    };
    let accounts: BTreeSet<&str> = report
        .activity
        .rows
        .iter()
        .filter_map(|r| report.activity.cell(r, "recipientAccountId"))
        .collect();
    out.push_str("<section id=\"summary\"><div class=\"cards\">");
    for severity in Severity::ALL.iter().rev() {
        let n = report
            .findings
            .iter()
            .filter(|f| f.severity == *severity)
            .count();
        let _ = write!(
            out,
            "<div class=\"card sev\" style=\"--c:{}\" data-severity=\"{}\"><b>{n}</b><span>{} findings</span></div>",
            color(*severity),
            severity.name(),
            severity.name()
        );
    }
    for (id, label, n) in [
        ("calls", "Inspector calls", sum("calls")),
        ("changes", "changes", sum("changes")),
        ("errors", "failed calls", sum("errors")),
        ("accounts", "accounts", accounts.len() as u64),
    ] {
        let _ = write!(
            out,
            "<div class=\"card\" data-total=\"{id}\"><b>{n}</b><span>{label}</span></div>"
        );
    }
    out.push_str("</div></section>\n");

    out.push_str("<section id=\"activity\"><h2>Inspector activity over time</h2><p class=\"lead\">Calls a day per account and Region (the <span class=\"mono\">activity-by-account-region</span> query); the dark part of a bar is changes, red dots are days with failed calls, triangles are findings of medium severity or above.</p>\n");
    activity_chart(&mut out, report);
    out.push_str("</section>\n");

    out.push_str("<section id=\"findings\"><h2>Findings</h2><p class=\"lead\">Every row of every detection in the window, most severe first, with the events behind it (look them up with <span class=\"mono\">eventID</span> in the dataset).</p>\n");
    if report.findings.is_empty() {
        out.push_str("<p class=\"none\">No detection found anything in the window.</p>\n");
    }
    let (urgent, routine): (Vec<&Finding>, Vec<&Finding>) = report
        .findings
        .iter()
        .partition(|f| f.severity >= Severity::Medium);
    for f in urgent {
        finding_block(&mut out, f);
    }
    let (low, informational): (Vec<&Finding>, Vec<&Finding>) = routine
        .into_iter()
        .partition(|f| f.severity == Severity::Low);
    for (group, heading, lead) in [
        (
            low,
            "Low",
            "Changes worth a record rather than a call: narrow suppression filters, deletions, failed attempts.",
        ),
        (
            informational,
            "Informational",
            "Routine changes to Inspector's configuration, listed for the record.",
        ),
    ] {
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "<details{}><summary>{heading}: {} {}</summary><p class=\"lead\">{lead}</p><table data-findings=\"{}\"><thead><tr><th>severity</th><th>eventTime</th><th>detection</th><th>actor</th><th>account</th><th>region</th><th>events</th></tr></thead><tbody>",
            if heading == "Low" { " open" } else { "" },
            group.len(),
            if group.len() == 1 {
                "finding"
            } else {
                "findings"
            },
            heading.to_lowercase()
        );
        for f in group {
            let _ = writeln!(
                out,
                "<tr data-finding=\"{}\" data-detection=\"{}\" data-severity=\"{}\"><td><span class=\"badge\" style=\"--c:{}\">{}</span></td><td class=\"time\">{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"time\">{}</td><td class=\"time\">{}</td><td class=\"id\" data-events>{}</td></tr>",
                esc(&f.id),
                esc(&f.detection),
                f.severity.name(),
                color(f.severity),
                f.severity.name(),
                esc(&f.time),
                esc(&f.title),
                esc(&f.actor),
                esc(&f.account),
                esc(&f.region),
                esc(&f.event_ids.join(", "))
            );
        }
        out.push_str("</tbody></table></details>\n");
    }
    out.push_str("</section>\n");

    out.push_str("<section id=\"timelines\"><h2>What the suspicious principals changed</h2><p class=\"lead\">For each principal behind a finding of medium severity or above (and any named with <span class=\"mono\">--principal</span>): every Inspector call it made that changed something or failed, in order, from where and with which tool (the <span class=\"mono\">principal-write-timeline</span> query).</p>\n");
    if report.timelines.is_empty() {
        out.push_str(
            "<p class=\"none\">No principal is behind a finding of medium severity or above.</p>\n",
        );
    }
    for t in &report.timelines {
        let badge = t.worst.map_or(String::new(), |s| {
            format!(
                " <span class=\"badge\" style=\"--c:{}\">{}</span>",
                color(s),
                s.name()
            )
        });
        let _ = writeln!(
            out,
            "<h3 data-principal=\"{}\"><span class=\"mono\">{}</span>{badge}</h3>",
            esc(t.principal),
            esc(t.principal)
        );
        timeline_table(&mut out, &t.rows);
    }
    out.push_str("</section>\n");

    for rows in &report.context {
        let _ = writeln!(
            out,
            "<section id=\"{}\"><h2>{}</h2>",
            esc(rows.query),
            esc(rows.title)
        );
        table(&mut out, rows, 25);
        out.push_str("</section>\n");
    }
    let _ = writeln!(
        out,
        "<footer>Window {} · events from {} · trailq {} · written {}. Each table is a saved query's answer; <span class=\"mono\">trailq queries show NAME</span> prints its SQL.</footer></main></body></html>",
        esc(&window),
        esc(report.source),
        esc(report.version),
        format_micros(report.generated_micros)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_data_is_escaped() {
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(time_text("2026-11-20 10:00:00.000"), "2026-11-20T10:00:00Z");
        assert_eq!(time_text("not a time"), "not a time");
    }

    #[test]
    fn the_page_holds_no_reference_to_anything_outside_it() {
        let names = [
            "day",
            "recipientAccountId",
            "awsRegion",
            "calls",
            "changes",
            "errors",
        ]
        .map(String::from)
        .to_vec();
        let rows = vec![
            [
                "2026-11-20 00:00:00.000",
                "111122223333",
                "us-east-1",
                "12",
                "2",
                "1",
            ]
            .map(|s| Some(s.to_owned()))
            .to_vec(),
        ];
        let page = html(&Report {
            window: (1_763_000_000_000_000, 1_764_000_000_000_000),
            source: "<dataset>",
            version: "0.1.0",
            generated_micros: 1_764_000_000_000_000,
            findings: &[],
            activity: Rows {
                query: "activity-by-account-region",
                title: "t",
                names: &names,
                rows: &rows,
                hide: &[],
            },
            timelines: Vec::new(),
            context: Vec::new(),
        });
        assert!(page.contains("data-calls=\"12\""));
        assert!(page.contains("&lt;dataset&gt;"));
        for needle in ["src=", "href=", "url(", "@import", "<script", "<link"] {
            assert!(!page.contains(needle), "{needle}");
        }
    }
}
