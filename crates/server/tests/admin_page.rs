//! The admin page of a real twin pair, fetched over HTTPS by Python's urllib: basic
//! authentication, the classic mirror lines, the JSON and the Prometheus text agreeing,
//! and no secret on any of them; and `twinmail status` in the terminal.

mod common;

use common::pair::{ADMIN_PASSWORD, Pair, py, send};

/// Fetches `path` from an admin page with `user:password` (or none): (status, body).
fn get(port: u16, path: &str, auth: Option<(&str, &str)>) -> (u16, String) {
    let (user, password) = auth.unwrap_or(("", ""));
    let out = py(
        r#"
import urllib.request, urllib.error, base64
req = urllib.request.Request('https://127.0.0.1:%s%s' % (sys.argv[1], sys.argv[2]))
if sys.argv[3]:
    req.add_header('Authorization', 'Basic ' + base64.b64encode(('%s:%s' % (sys.argv[3], sys.argv[4])).encode()).decode())
try:
    r = urllib.request.urlopen(req, context=CTX, timeout=30)
    print(json.dumps([r.status, r.read().decode()]))
except urllib.error.HTTPError as e:
    print(json.dumps([e.code, e.read().decode()]))
"#,
        &[
            port.to_string(),
            path.to_string(),
            user.to_string(),
            password.to_string(),
        ],
    );
    serde_json::from_str(out.trim()).unwrap()
}

/// Runs headless Chromium with `args`; returns what it printed.
fn chromium(args: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--ignore-certificate-errors",
        ])
        .arg(format!("--user-data-dir={}", home.path().display()))
        .args(args)
        .env("HOME", home.path())
        .current_dir(home.path())
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Checks the Prometheus text format line by line; returns `name` or
/// `name{label="value"}` → value.
fn parse_metrics(text: &str) -> std::collections::HashMap<String, f64> {
    let mut out = std::collections::HashMap::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').expect("labels end with }");
                for l in labels.split(',') {
                    let (k, v) = l.split_once('=').expect("label=value");
                    assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                    assert!(
                        v.starts_with('"') && v.ends_with('"') && v.len() >= 2,
                        "{l}"
                    );
                }
                name
            }
            None => series,
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad metric name {name:?}"
        );
        out.insert(series.to_string(), value.parse().unwrap());
    }
    out
}

/// Runs promtool (scripts/test unpacks it from Debian's prometheus package) with `args`,
/// feeding it `stdin`; fails the test on any complaint.
fn promtool(args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}: {text}");
    text
}

/// The alert rules load, and their unit tests (alerts that must and must not fire on
/// given series) pass.
#[test]
fn the_alert_rules_check_and_their_tests_pass() {
    twinmail_testkit::require(&["promtool"]);
    let out = promtool(&["check", "rules", "deploy/prometheus-rules.yml"], None);
    assert!(out.contains("SUCCESS"), "{out}");
    let out = promtool(&["test", "rules", "deploy/prometheus-rules.test.yml"], None);
    assert!(out.contains("SUCCESS"), "{out}");
}

/// `/api/status` of a twin, parsed.
fn status_json(port: u16) -> serde_json::Value {
    let (code, json) = get(port, "/api/status", Some(("admin", ADMIN_PASSWORD)));
    assert_eq!(code, 200);
    serde_json::from_str(&json).unwrap()
}

#[test]
fn the_status_page_shows_the_mirror_at_work() {
    twinmail_testkit::require(&["chromium", "promtool", "python3"]);
    // Audits every second, so the test sees one.
    let pair = Pair::start_custom(|b| b, 1, "audit_interval_secs = 1");
    let (home_a, home_b) = pair.users_on_both_homes();
    send(pair.a.port("smtp"), &home_a, &["one".into(), "two".into()]);
    send(pair.b.port("smtp"), &home_b, &["three".into()]);
    // A recipient nobody here takes: refused, and the page says why.
    py(
        r#"
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))
try:
    s.sendmail('someone@remote.test', ['nobody@example.org'], b'Subject: x\r\n\r\nx\r\n')
    raise SystemExit('accepted')
except smtplib.SMTPRecipientsRefused as e:
    print(e)
s.quit()
"#,
        &[pair.a.port("smtp").to_string()],
    );
    pair.wait_in_sync();
    let port = pair.a.port("admin");
    // The audit runs once the link is up and quiet, and finds the twins equal.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while status_json(port)["mirror"]["audit"]["at"].as_i64() == Some(0) {
        assert!(std::time::Instant::now() < deadline, "no audit ran");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // No credentials, wrong ones: 401, nothing shown.
    assert_eq!(get(port, "/", None).0, 401);
    assert_eq!(get(port, "/api/status", Some(("admin", "wrong"))).0, 401);
    assert_eq!(get(port, "/metrics", Some(("root", ADMIN_PASSWORD))).0, 401);
    let auth = Some(("admin", ADMIN_PASSWORD));
    let (code, page) = get(port, "/", auth);
    assert_eq!(code, 200);
    assert!(page.contains("Mirror out: Que/sent add=2/2 ("), "{page}");
    assert!(
        page.contains("Mirror in: Received add=1 del=0 rename=0 failed=0"),
        "{page}"
    );
    assert!(page.contains("<svg"), "no plot");
    assert!(page.contains("http-equiv=\"refresh\""));
    let (code, json) = get(port, "/api/status", auth);
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mirror = &status["mirror"];
    assert_eq!(mirror["audit"]["differences"], 0, "{json}");
    // Traffic: two messages in over SMTP, one recipient refused, with its reply.
    let smtp = status["protocols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "smtp")
        .expect("an smtp row");
    assert_eq!(smtp["received"], 2, "{json}");
    assert_eq!(smtp["delivered"], 2);
    assert_eq!(smtp["rejected"], 1);
    assert!(smtp["connections"].as_u64().unwrap() >= 2);
    let reject = &status["recent_rejects"][0];
    assert_eq!(reject["command"], "RCPT");
    assert!(
        reject["reply"].as_str().unwrap().starts_with("550 5.1.1"),
        "{json}"
    );
    // Every listener shows when its certificate expires (the generated one: in a year)
    // and that it is the generated one.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for l in status["listeners"].as_array().unwrap() {
        let expires = l["cert_expires"].as_i64().unwrap();
        assert!(expires > now + 86400 * 363, "{l}");
        assert!(expires <= now + 86400 * 365, "{l}");
        assert_eq!(l["cert_generated"], true, "{l}");
    }
    assert_eq!(mirror["link"], "up");
    assert_eq!(mirror["mode"], "async");
    assert_eq!(mirror["out"]["queued_add"], 2);
    assert_eq!(mirror["in"]["add"], 1);
    assert!(
        mirror["lines"][0]
            .as_str()
            .unwrap()
            .starts_with("Mirror out: Que/sent add=2/2")
    );
    let (code, text) = get(port, "/metrics", auth);
    assert_eq!(code, 200);
    let metrics = parse_metrics(&text);
    assert_eq!(metrics["twinmail_mirror_out_queued_add_total"], 2.0);
    assert_eq!(metrics["twinmail_mirror_in_add_total"], 1.0);
    assert_eq!(metrics["twinmail_mirror_link_up"], 1.0);
    assert_eq!(
        metrics["twinmail_accounts"],
        status["accounts"].as_f64().unwrap()
    );
    assert_eq!(
        metrics["twinmail_messages_received_total{protocol=\"smtp\"}"],
        2.0
    );
    assert_eq!(
        metrics["twinmail_messages_rejected_total{protocol=\"smtp\"}"],
        1.0
    );
    assert_eq!(metrics["twinmail_mirror_audit_differences"], 0.0);
    assert_eq!(
        metrics["twinmail_tls_cert_expiry_timestamp_seconds{listener=\"imaps\"}"],
        status["listeners"][0]["cert_expires"].as_f64().unwrap()
    );
    promtool(&["check", "metrics"], Some(&text));
    assert!(page.contains("id=\"traffic-smtp\""), "{page}");
    assert!(page.contains("550 5.1.1"), "{page}");
    // No secret anywhere: not the mirror secret, not a password hash.
    let secret = std::fs::read_to_string(pair.dir.path().join("mirror.secret")).unwrap();
    for body in [&page, &json, &text] {
        assert!(!body.contains(secret.trim()));
        assert!(!body.contains("$argon2"));
    }
    // A real browser (headless Chromium, installed by .ci/run) sees the same, and leaves
    // a screenshot of the page.
    let url = format!("https://admin:{ADMIN_PASSWORD}@127.0.0.1:{port}/");
    let dom = chromium(&["--dump-dom", &url]);
    assert!(dom.contains("Mirror out: Que/sent add=2/2 ("), "{dom}");
    assert!(
        dom.contains("Mirror in: Received add=1 del=0 rename=0 failed=0"),
        "{dom}"
    );
    assert!(dom.contains("<svg"), "{dom}");
    assert!(dom.contains("self-signed (generated)"), "{dom}");
    let anonymous = chromium(&["--dump-dom", &format!("https://127.0.0.1:{port}/")]);
    assert!(
        !anonymous.contains("Mirror out"),
        "shown without a login: {anonymous}"
    );
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("admin-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1024,1300",
        &url,
    ]);
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false)
    );
    eprintln!("screenshot of the status page: {}", shot.display());
    // The same lines in the terminal, with the traffic the server last wrote down (every
    // ten seconds).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let (code, out) = loop {
        let (code, out) = pair.b.cli(&["status"]);
        let smtp_line = out.lines().find(|l| l.starts_with("smtp "));
        if smtp_line.is_some_and(|l| l.split_whitespace().nth(5) == Some("1")) {
            break (code, out);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no traffic shown:\n{out}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_eq!(code, 0, "{out}");
    // Times for people: dates in UTC and durations, no Unix seconds (ten digits).
    assert!(out.contains("TLS certificate expires 20"), "{out}");
    assert!(
        out.contains(" UTC, in 36"),
        "a year, less a day or so:\n{out}"
    );
    assert!(out.contains("server: up "), "{out}");
    assert!(out.contains("Link: up since 20"), "{out}");
    assert!(
        !out.split(|c: char| !c.is_ascii_digit())
            .any(|n| n.len() == 10),
        "Unix seconds in:\n{out}"
    );
    // The log: one span per session with a connection id; no message body, no password.
    let log = std::fs::read_to_string(pair.a.config.with_extension("log")).unwrap();
    let smtp_lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["span"]["name"] == "smtp")
        .collect();
    assert!(!smtp_lines.is_empty(), "no SMTP session lines in the log");
    for v in &smtp_lines {
        assert!(
            v["span"]["conn"].as_u64().is_some(),
            "no connection id: {v}"
        );
    }
    assert!(!log.contains("body of one"), "a message body was logged");
    assert!(
        !log.contains(common::pair::PASSWORD),
        "a password was logged"
    );
    assert!(out.contains("Mirror out: Que/sent add=1/1 ("), "{out}");
    assert!(
        out.contains("Mirror in: Received add=2 del=0 rename=0 failed=0"),
        "{out}"
    );
}

/// TLS handshakes on the admin port run side by side: clients that connect and say
/// nothing (each may hold its handshake for 5 s) do not keep the page from another.
#[test]
fn silent_clients_do_not_stall_the_admin_page() {
    let pair = Pair::start();
    let port = pair.a.port("admin");
    let silent: Vec<std::net::TcpStream> = (0..4)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    // Let the listener take them first.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    let (status, body) = get(port, "/api/status", Some(("admin", ADMIN_PASSWORD)));
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(
        took < std::time::Duration::from_secs(3),
        "the page took {took:?} behind {} silent clients",
        silent.len()
    );
    drop(silent);
}

/// Password guesses at the admin page pass its own gate: one check at a time and a few
/// waiting; the rest hear 503 at once instead of queueing for the hash slots the mail
/// logins use. The admin still gets in afterwards (after the delay the guesses earned).
#[test]
fn admin_page_guesses_pass_a_bounded_gate_of_their_own() {
    let pair = Pair::start();
    let out = py(
        r#"
import urllib.request, urllib.error, base64, concurrent.futures
def one(pw):
    req = urllib.request.Request('https://127.0.0.1:%s/api/status' % sys.argv[1])
    req.add_header('Authorization', 'Basic ' + base64.b64encode(('admin:%s' % pw).encode()).decode())
    try:
        return urllib.request.urlopen(req, context=CTX, timeout=60).status
    except urllib.error.HTTPError as e:
        return e.code
with concurrent.futures.ThreadPoolExecutor(16) as ex:
    codes = list(ex.map(one, ['guess%d' % i for i in range(16)]))
print(json.dumps([codes, one(sys.argv[2])]))
"#,
        &[pair.a.port("admin").to_string(), ADMIN_PASSWORD.to_string()],
    );
    let (codes, admin): (Vec<u16>, u16) = serde_json::from_str(out.trim()).unwrap();
    let busy = codes.iter().filter(|c| **c == 503).count();
    assert!(busy >= 8, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 503 || *c == 401), "{codes:?}");
    assert_eq!(admin, 200);
}
