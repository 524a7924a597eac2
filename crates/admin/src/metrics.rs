//! `/metrics` in the Prometheus text format (0.0.4). Hand-written: the values are already
//! held as counters in the store, so rendering them is a few lines, where a metrics
//! recorder would mean keeping a second copy of every counter in step.

use std::fmt::Write;

use crate::status::Status;

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    let _ = writeln!(out, "# HELP twinmail_{name} {help}");
    let _ = writeln!(out, "# TYPE twinmail_{name} {kind}");
    let _ = writeln!(out, "twinmail_{name} {value}");
}

/// One metric with a sample per label value (`label="value"`).
fn family(out: &mut String, name: &str, kind: &str, help: &str, rows: &[(String, f64)]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "# HELP twinmail_{name} {help}");
    let _ = writeln!(out, "# TYPE twinmail_{name} {kind}");
    for (labels, value) in rows {
        let _ = writeln!(out, "twinmail_{name}{{{labels}}} {value}");
    }
}

/// Label values are our own names (protocols, services): plain ASCII, but escaped
/// anyway as the format asks.
fn label(key: &str, value: &str) -> String {
    let v = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("{key}=\"{v}\"")
}

/// The per-protocol counters.
fn protocols(out: &mut String, s: &Status) {
    type Get = fn(&crate::status::Protocol) -> f64;
    let families: [(&str, &str, &str, Get); 7] = [
        ("sessions_open", "gauge", "Sessions open now.", |p| {
            p.open as f64
        }),
        (
            "connections_total",
            "counter",
            "Connections admitted.",
            |p| p.connections as f64,
        ),
        (
            "connections_refused_total",
            "counter",
            "Connections refused by the connection limits.",
            |p| p.refused as f64,
        ),
        ("auth_failures_total", "counter", "Failed logins.", |p| {
            p.auth_failures as f64
        }),
        (
            "messages_received_total",
            "counter",
            "Messages accepted.",
            |p| p.received as f64,
        ),
        (
            "messages_delivered_total",
            "counter",
            "Mailbox copies stored from accepted messages.",
            |p| p.delivered as f64,
        ),
        (
            "messages_rejected_total",
            "counter",
            "Senders, recipients and messages refused.",
            |p| p.rejected as f64,
        ),
    ];
    for (name, kind, help, get) in families {
        let rows: Vec<(String, f64)> = s
            .protocols
            .iter()
            .map(|p| (label("protocol", &p.name), get(p)))
            .collect();
        family(out, name, kind, help, &rows);
    }
    let certs: Vec<(String, f64)> = s
        .listeners
        .iter()
        .filter_map(|l| Some((label("listener", &l.service), l.cert_expires? as f64)))
        .collect();
    family(
        out,
        "tls_cert_expiry_timestamp_seconds",
        "gauge",
        "When the TLS certificate a listener presents expires (Unix time).",
        &certs,
    );
}

/// The inbound filters' outcomes, errors and time.
fn filters(out: &mut String, s: &Status) {
    let mut outcomes = Vec::new();
    for f in &s.filters {
        for (outcome, n) in [
            ("accepted", f.accepted),
            ("junked", f.junked),
            ("rejected", f.rejected),
            ("tempfailed", f.tempfailed),
        ] {
            let labels = format!("{},{}", label("filter", &f.name), label("outcome", outcome));
            outcomes.push((labels, n as f64));
        }
    }
    family(
        out,
        "filter_messages_total",
        "counter",
        "Messages an inbound filter decided on, by outcome.",
        &outcomes,
    );
    let rows = |get: fn(&crate::status::FilterCounts) -> f64| -> Vec<(String, f64)> {
        s.filters
            .iter()
            .map(|f| (label("filter", &f.name), get(f)))
            .collect()
    };
    family(
        out,
        "filter_errors_total",
        "counter",
        "Times an inbound filter could not decide (daemon down, timeout, bad answer).",
        &rows(|f| f.errors as f64),
    );
    family(
        out,
        "filter_seconds_total",
        "counter",
        "Time inbound filters spent deciding.",
        &rows(|f| f.total_micros as f64 / 1e6),
    );
}

/// Renders every counter and gauge of the status.
pub(crate) fn render(s: &Status) -> String {
    let mut out = String::new();
    metric(
        &mut out,
        "uptime_seconds",
        "gauge",
        "Seconds since start.",
        s.uptime_secs as f64,
    );
    metric(
        &mut out,
        "busy_percent",
        "gauge",
        "CPU busy share over the last minute.",
        s.busy_percent,
    );
    metric(
        &mut out,
        "accounts",
        "gauge",
        "Accounts held.",
        s.accounts as f64,
    );
    protocols(&mut out, s);
    if let Some(q) = &s.outbound {
        for (name, kind, help, value) in [
            (
                "outbound_queue_messages",
                "gauge",
                "Messages in the outbound queue.",
                q.queued,
            ),
            (
                "outbound_queue_recipients",
                "gauge",
                "Recipients still to deliver.",
                q.recipients,
            ),
            (
                "outbound_queue_oldest_seconds",
                "gauge",
                "Age of the oldest queued message.",
                q.oldest_secs,
            ),
            (
                "outbound_delivered_total",
                "counter",
                "Recipients delivered to other servers.",
                q.delivered,
            ),
            (
                "outbound_deferred_total",
                "counter",
                "Recipient attempts deferred for a retry.",
                q.deferred,
            ),
            (
                "outbound_failed_total",
                "counter",
                "Recipients failed for good.",
                q.failed,
            ),
            (
                "outbound_bounces_total",
                "counter",
                "Failure notices sent to senders.",
                q.bounces,
            ),
            (
                "outbound_takeovers_total",
                "counter",
                "Messages of the twin's delivered here after its lease.",
                q.takeovers,
            ),
        ] {
            metric(&mut out, name, kind, help, value as f64);
        }
    }
    filters(&mut out, s);
    if let Some(m) = &s.mirror {
        let up = if m.link == "up" { 1.0 } else { 0.0 };
        metric(
            &mut out,
            "mirror_link_up",
            "gauge",
            "1 while the link to the twin is up.",
            up,
        );
        metric(
            &mut out,
            "mirror_in_sync",
            "gauge",
            "1 when linked with nothing waiting and no unresolved conflict.",
            if m.in_sync { 1.0 } else { 0.0 },
        );
        metric(
            &mut out,
            "mirror_unresolved_conflicts",
            "gauge",
            "The twin's changes not applied here since the last clean audit, or the last audit's differences.",
            m.unresolved as f64,
        );
        metric(
            &mut out,
            "mirror_merge_renumbered_total",
            "counter",
            "Messages given fresh UIDs by the merge of a split.",
            m.merge.renumbered as f64,
        );
        metric(
            &mut out,
            "mirror_merge_waiting",
            "gauge",
            "Messages and mailboxes waiting for the home twin's merge of a split.",
            m.merge.waiting as f64,
        );
        metric(
            &mut out,
            "mirror_sync_fallback",
            "gauge",
            "1 while sync mode runs async after a timeout.",
            if m.sync_fallback { 1.0 } else { 0.0 },
        );
        metric(
            &mut out,
            "mirror_lag_seconds",
            "gauge",
            "Age of the oldest change the twin has not acknowledged.",
            m.lag_secs as f64,
        );
        metric(
            &mut out,
            "mirror_queue",
            "gauge",
            "Changes the twin has not acknowledged.",
            m.queue as f64,
        );
        metric(
            &mut out,
            "mirror_out_queued_add_total",
            "counter",
            "Messages added here, queued for the twin.",
            m.out.queued_add as f64,
        );
        metric(
            &mut out,
            "mirror_out_sent_add_total",
            "counter",
            "Messages added here, acknowledged by the twin.",
            m.out.sent_add as f64,
        );
        metric(
            &mut out,
            "mirror_out_sent_add_bytes_total",
            "counter",
            "Bytes of acknowledged adds.",
            m.out.sent_add_bytes as f64,
        );
        metric(
            &mut out,
            "mirror_out_queued_del_total",
            "counter",
            "Messages expunged here, queued for the twin.",
            m.out.queued_del as f64,
        );
        metric(
            &mut out,
            "mirror_out_sent_del_total",
            "counter",
            "Messages expunged here, acknowledged by the twin.",
            m.out.sent_del as f64,
        );
        metric(
            &mut out,
            "mirror_forwarded_writes_total",
            "counter",
            "Writes forwarded to the accounts' home twin and done there.",
            m.forwarded.writes as f64,
        );
        metric(
            &mut out,
            "mirror_forwarded_bytes_total",
            "counter",
            "Message bytes of the writes forwarded to the home twin.",
            m.forwarded.bytes as f64,
        );
        metric(
            &mut out,
            "mirror_forwarded_failed_total",
            "counter",
            "Forwarded writes that failed or stayed in doubt.",
            m.forwarded.failed as f64,
        );
        metric(
            &mut out,
            "mirror_in_add_total",
            "counter",
            "Messages added by the twin's changes.",
            m.received.add as f64,
        );
        metric(
            &mut out,
            "mirror_in_del_total",
            "counter",
            "Messages expunged by the twin's changes.",
            m.received.del as f64,
        );
        metric(
            &mut out,
            "mirror_in_rename_total",
            "counter",
            "Folders renamed by the twin's changes.",
            m.received.rename as f64,
        );
        metric(
            &mut out,
            "mirror_in_flags_total",
            "counter",
            "Flag changes applied from the twin.",
            m.received.flags as f64,
        );
        metric(
            &mut out,
            "mirror_in_other_total",
            "counter",
            "Other changes applied from the twin.",
            m.received.other as f64,
        );
        metric(
            &mut out,
            "mirror_in_failed_total",
            "counter",
            "Twin changes that could not be applied (conflicts).",
            m.received.failed as f64,
        );
        metric(
            &mut out,
            "mirror_audit_timestamp_seconds",
            "gauge",
            "When the last audit against the twin ran (Unix time; 0: never).",
            m.audit.at as f64,
        );
        metric(
            &mut out,
            "mirror_audit_differences",
            "gauge",
            "Differences the last audit found between the twins.",
            m.audit.differences as f64,
        );
        metric(
            &mut out,
            "mirror_audit_repaired_total",
            "counter",
            "Messages the audits' repairs mended here (announced or expunged again, renumbered, re-flagged).",
            m.audit.repaired as f64,
        );
        metric(
            &mut out,
            "mirror_refused_peers_total",
            "counter",
            "Connections refused on the mirror port.",
            m.refused_peers as f64,
        );
    }
    out
}
