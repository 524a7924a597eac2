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
        .expect("chromium is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Checks the Prometheus text format line by line; returns name → value.
fn parse_metrics(text: &str) -> std::collections::HashMap<String, f64> {
    let mut out = std::collections::HashMap::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (name, value) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad metric name {name:?}"
        );
        out.insert(name.to_string(), value.parse().unwrap());
    }
    out
}

#[test]
fn the_status_page_shows_the_mirror_at_work() {
    let pair = Pair::start();
    let (home_a, home_b) = pair.users_on_both_homes();
    send(pair.a.port("smtp"), &home_a, &["one".into(), "two".into()]);
    send(pair.b.port("smtp"), &home_b, &["three".into()]);
    pair.wait_in_sync();
    let port = pair.a.port("admin");
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
    // The same lines in the terminal.
    let (code, out) = pair.b.cli(&["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Mirror out: Que/sent add=1/1 ("), "{out}");
    assert!(
        out.contains("Mirror in: Received add=2 del=0 rename=0 failed=0"),
        "{out}"
    );
}
