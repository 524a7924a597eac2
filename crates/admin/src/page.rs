//! The status page: plain HTML, no JavaScript, no external assets, refreshing itself every
//! ten seconds; the last hour of mirror lag and queue depth as an inline SVG plot.

use std::fmt::Write;

use crate::status::{Sample, Status};

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60);
    match (d, h) {
        (0, 0) => format!("{m} min {} s", secs % 60),
        (0, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

/// The page.
pub(crate) fn render(s: &Status) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"10\"><title>twinmail {node}</title>\
         <style>body{{font-family:sans-serif;margin:2em;max-width:60em}}\
         table{{border-collapse:collapse}}td,th{{padding:.2em .8em;text-align:left;border-bottom:1px solid #ddd}}\
         pre{{background:#f4f4f4;padding:.6em}}.bad{{color:#b00}}.good{{color:#070}}</style></head><body>\
         <h1>twinmail — twin {node}</h1>\
         <p>version {version} · up {uptime} · busy <b id=\"busy\">{busy:.0}%</b> · {accounts} accounts</p>",
        node = esc(&s.node),
        version = s.version,
        uptime = duration(s.uptime_secs),
        busy = s.busy_percent,
        accounts = s.accounts,
    );
    o.push_str("<h2>Mirror</h2>");
    match &s.mirror {
        None => o.push_str("<p>This server has no twin.</p>"),
        Some(m) => {
            let class = if m.in_sync {
                "good"
            } else if m.link != "up" || m.unresolved > 0 {
                "bad"
            } else {
                ""
            };
            let state = format!(
                "<span id=\"state\" class=\"{class}\">{}</span>",
                esc(&m.state)
            );
            let _ = write!(
                o,
                "<pre id=\"mirror-lines\">{}\n{}</pre>\
                 <table><tr><th>state</th><td>{state}</td></tr>\
                 <tr><th>link</th><td id=\"link\">{} (twin {}, for {})</td></tr>\
                 <tr><th>mode</th><td>{}{}</td></tr>\
                 <tr><th>lag now</th><td id=\"lag\">{} s, {} changes queued</td></tr>\
                 <tr><th>forwarded to the home twin</th><td id=\"forwarded\">{} writes ({} bytes), {} failed</td></tr>\
                 <tr><th>flags received</th><td>{}</td></tr>\
                 <tr><th>other changes received</th><td>{}</td></tr>\
                 <tr><th>conflicts (not applied)</th><td>{}</td></tr>\
                 <tr><th>audit</th><td id=\"audit\">{}</td></tr>\
                 <tr><th>refused peers</th><td>{}</td></tr>\
                 <tr><th>last error</th><td>{}</td></tr></table>",
                esc(&m.lines[0]),
                esc(&m.lines[1]),
                esc(&m.link),
                esc(&m.twin),
                duration((twinmail_store::now_unix() - m.link_since).max(0) as u64),
                esc(&m.mode),
                if m.sync_fallback {
                    " — <span class=\"bad\">fell back to async</span>"
                } else {
                    ""
                },
                m.lag_secs,
                m.queue,
                m.forwarded.writes,
                m.forwarded.bytes,
                m.forwarded.failed,
                m.received.flags,
                m.received.other,
                m.received.failed,
                audit(&m.audit),
                m.refused_peers,
                esc(if m.last_error.is_empty() {
                    "none"
                } else {
                    &m.last_error
                }),
            );
            o.push_str("<h3>Lag and queue, last hour</h3>");
            o.push_str(&plot(&s.history));
        }
    }
    if let Some(q) = &s.outbound {
        let _ = write!(
            o,
            "<h2>Outbound</h2><table>\
             <tr><th>queued</th><td id=\"outbound-queue\">{} messages, {} recipients, {} bytes{}</td></tr>\
             <tr><th>oldest</th><td>{}</td></tr>\
             <tr><th>since start</th><td id=\"outbound-counts\">delivered={} deferred={} failed={} bounces={} taken over={}</td></tr></table>",
            q.queued,
            q.recipients,
            q.bytes,
            if q.held > 0 {
                format!(", {} held", q.held)
            } else {
                String::new()
            },
            if q.queued == 0 {
                "-".to_string()
            } else {
                duration(q.oldest_secs)
            },
            q.delivered,
            q.deferred,
            q.failed,
            q.bounces,
            q.takeovers,
        );
        if !q.recent.is_empty() {
            o.push_str("<h3>Last failures and deferrals</h3><table id=\"outbound-recent\">");
            for f in &q.recent {
                let _ = write!(
                    o,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    f.at,
                    esc(&f.rcpt),
                    esc(&f.reply)
                );
            }
            o.push_str("</table>");
        }
    }
    o.push_str(
        "<h2>Traffic</h2><table id=\"traffic\"><tr><th>protocol</th><th>open</th>\
         <th>connections</th><th>refused</th><th>failed logins</th><th>received</th>\
         <th>delivered</th><th>rejected</th><th>per minute (received / delivered / rejected)</th></tr>",
    );
    for p in &s.protocols {
        let _ = write!(
            o,
            "<tr id=\"traffic-{name}\"><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{:.1} / {:.1} / {:.1}</td></tr>",
            p.open,
            p.connections,
            p.refused,
            p.auth_failures,
            p.received,
            p.delivered,
            p.rejected,
            p.received_per_min,
            p.delivered_per_min,
            p.rejected_per_min,
            name = esc(&p.name),
        );
    }
    o.push_str("</table>");
    if !s.filters.is_empty() {
        o.push_str(
            "<h3>Inbound filters</h3><table id=\"filters\"><tr><th>filter</th><th>checked</th>\
             <th>accepted</th><th>junked</th><th>rejected</th><th>tempfailed</th><th>errors</th>\
             <th>mean ms</th><th>max ms</th></tr>",
        );
        for f in &s.filters {
            let _ = write!(
                o,
                "<tr id=\"filter-{name}\"><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td></tr>",
                f.checked,
                f.accepted,
                f.junked,
                f.rejected,
                f.tempfailed,
                f.errors,
                f.total_micros as f64 / 1000.0 / f.checked.max(1) as f64,
                f.max_micros as f64 / 1000.0,
                name = esc(&f.name),
            );
        }
        o.push_str("</table>");
    }
    o.push_str("<h3>Recent rejections</h3>");
    if s.recent_rejects.is_empty() {
        o.push_str("<p>none</p>");
    } else {
        o.push_str("<table id=\"rejects\"><tr><th>age</th><th>protocol</th><th>command</th><th>reply</th></tr>");
        let now = twinmail_store::now_unix();
        for r in &s.recent_rejects {
            let _ = write!(
                o,
                "<tr><td>{} ago</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                duration((now - r.at).max(0) as u64),
                esc(&r.protocol),
                esc(&r.command),
                esc(&r.reply)
            );
        }
        o.push_str("</table>");
    }
    o.push_str(
        "<h2>Listeners</h2><table><tr><th>service</th><th>address</th><th>certificate expires</th></tr>",
    );
    for l in &s.listeners {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&l.service),
            esc(&l.addr),
            expiry(l.cert_expires, l.cert_generated)
        );
    }
    o.push_str(
        "</table><p>Also as <a href=\"/api/status\">JSON</a> and \
         <a href=\"/metrics\">Prometheus metrics</a>.</p></body></html>",
    );
    o
}

/// The audit cell: when, and what it found.
fn audit(a: &crate::status::Audit) -> String {
    if a.at == 0 {
        return "not run yet (runs while the link is up and quiet)".into();
    }
    let ago = duration((twinmail_store::now_unix() - a.at).max(0) as u64);
    let repaired = match a.repaired {
        0 => String::new(),
        n => format!("; {n} messages repaired so far"),
    };
    match a.differences {
        0 => format!("<span class=\"good\">the twins matched</span> {ago} ago{repaired}"),
        n => format!(
            "<span class=\"bad\">{n} differences</span> {ago} ago (first: {}), being \
             repaired{repaired}; <code>twinmail mirror verify</code> lists them",
            esc(&a.first)
        ),
    }
}

/// A certificate's expiry as days left, red under three weeks; and whether twinmail
/// generated it.
fn expiry(at: Option<i64>, generated: bool) -> String {
    let Some(at) = at else {
        return "-".into();
    };
    let days = (at - twinmail_store::now_unix()) / 86400;
    let note = if generated {
        " · self-signed (generated)"
    } else {
        ""
    };
    if days < 21 {
        format!("<span class=\"bad\">in {days} days</span>{note}")
    } else {
        format!("in {days} days{note}")
    }
}

/// Lag (seconds, red) and queue depth (changes, blue) over the samples, each scaled to
/// its own maximum.
fn plot(samples: &[Sample]) -> String {
    const W: f64 = 720.0;
    const H: f64 = 160.0;
    let mut o = format!(
        "<svg id=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" \
         role=\"img\" aria-label=\"mirror lag and queue\">\
         <rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#fafafa\" stroke=\"#ccc\"/>",
        H + 20.0
    );
    if samples.len() < 2 {
        o.push_str("<text x=\"10\" y=\"80\">collecting samples (one every 10 s)</text></svg>");
        return o;
    }
    let (t0, t1) = (
        samples[0].t,
        samples[samples.len() - 1].t.max(samples[0].t + 1),
    );
    let x = |t: i64| (t - t0) as f64 / (t1 - t0) as f64 * W;
    for (color, label, value) in [
        (
            "#c00",
            "lag s",
            (|s: &Sample| s.lag_secs as f64) as fn(&Sample) -> f64,
        ),
        ("#00c", "queue", |s: &Sample| s.queue as f64),
    ] {
        let max = samples.iter().map(value).fold(1.0, f64::max);
        let points: Vec<String> = samples
            .iter()
            .map(|s| format!("{:.1},{:.1}", x(s.t), H - value(s) / max * (H - 10.0)))
            .collect();
        let _ = write!(
            o,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>",
            points.join(" ")
        );
        let lx = if color == "#c00" { 10.0 } else { 200.0 };
        let _ = write!(
            o,
            "<text x=\"{lx}\" y=\"{}\" fill=\"{color}\" font-size=\"12\">{label} (max {max})</text>",
            H + 15.0
        );
    }
    o.push_str("</svg>");
    o
}
