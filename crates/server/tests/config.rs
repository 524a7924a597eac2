//! The config file as an admin meets it: the example stays true, and a bad file gets one
//! clear message per problem, naming file and key, with exit status 2 and nothing started.

use std::process::{Command, Output};

fn twinmail(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twinmail"))
        .args(args)
        .current_dir(dir)
        .env_remove("TWINMAIL_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("run twinmail")
}

#[test]
fn example_config_is_generated_from_the_structs() {
    let dir = tempfile::tempdir().unwrap();
    let out = twinmail(&["config", "example"], dir.path());
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/example.toml"
    ))
    .unwrap();
    assert_eq!(
        generated, committed,
        "config/example.toml is stale: regenerate it with `twinmail config example > config/example.toml`"
    );
    // And the example itself is a valid config.
    let path = dir.path().join("example.toml");
    std::fs::write(&path, &generated).unwrap();
    let out = twinmail(
        &["--config", path.to_str().unwrap(), "config", "check"],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_problem_is_reported_at_once_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"
[node]
id = "Bad Id"
colour = "blue"
[store]
read_connections = "many"
[tls]
cert = "/nonexistent/cert.pem"
key = "/nonexistent/key.pem"
[log]
format = "xml"
[smtpp]
listen = "x"
[smtp]
listen = ["127.0.0.1:99999"]
"#,
    )
    .unwrap();
    let out = twinmail(
        &["--config", path.to_str().unwrap(), "config", "check"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = path.display().to_string();
    for expected in [
        format!("{file}: node.colour: unknown key"),
        format!("{file}: smtpp: unknown section"),
        format!("{file}: store.read_connections: invalid type: string \"many\", expected u32"),
        format!("{file}: node.id: \"Bad Id\" is not"),
        format!("{file}: tls.cert: cannot read /nonexistent/cert.pem"),
        format!("{file}: tls.key: cannot read /nonexistent/key.pem"),
        format!("{file}: log.format: \"xml\""),
        format!("{file}: smtp.listen: invalid socket address syntax"),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
    // `serve` with the same file starts nothing: no data directory appears.
    let out = twinmail(&["--config", path.to_str().unwrap(), "serve"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("twinmail-data").exists());
}

#[test]
fn unparsable_file_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "[node]\nid = \n").unwrap();
    let out = twinmail(&["--config", path.to_str().unwrap(), "serve"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.toml") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn unreadable_certificate_stops_serve() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, "not a certificate").unwrap();
    std::fs::write(&key, "not a key").unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n").unwrap();
    let out = twinmail(&["--config", path.to_str().unwrap(), "serve"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tls.cert") && err.contains("cert.pem"),
        "{err}"
    );
    assert!(!dir.path().join("twinmail-data").exists());
}

#[test]
fn admin_commands_manage_users_domains_and_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(
        &path,
        "[node]\nid = \"a\"\n[store]\npassword_memory_kib = 64\npassword_passes = 1\n",
    )
    .unwrap();
    let cfg = path.to_str().unwrap();
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_twinmail"))
            .args(["--config", cfg])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    assert!(run(&["domain", "add", "Example.COM"], "").status.success());
    // A password never comes from argv: stdin is required.
    let out = run(&["user", "add", "alice@example.com"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no password"));
    assert!(
        run(&["user", "add", "alice@example.com"], "s3cret\n")
            .status
            .success()
    );
    let out = run(&["user", "add", "bob@elsewhere.org"], "pw\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a local domain"));
    assert!(
        run(&["alias", "add", "@example.com", "alice@example.com"], "")
            .status
            .success()
    );
    let list = run(&["user", "list"], "");
    assert_eq!(String::from_utf8_lossy(&list.stdout), "alice@example.com\n");
    let list = run(&["alias", "list"], "");
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "@example.com -> alice@example.com\n"
    );
    let list = run(&["domain", "list"], "");
    assert_eq!(String::from_utf8_lossy(&list.stdout), "example.com\n");
    assert!(
        run(&["user", "del", "alice@example.com"], "")
            .status
            .success()
    );
    assert_eq!(
        String::from_utf8_lossy(&run(&["alias", "list"], "").stdout),
        ""
    );
}

/// The compose pair's configs (deploy/compose) pass `config check`, and each twin dials
/// the fixed address compose.yaml gives the other.
#[test]
fn the_compose_pair_configs_check_and_point_at_each_other() {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let compose = std::fs::read_to_string(root.join("deploy/compose.yaml")).unwrap();
    let address = |twin: &str| {
        let from = compose.find(&format!("hostname: twin-{twin}")).unwrap();
        let rest = &compose[from..];
        let at = rest.find("ipv4_address: ").unwrap() + "ipv4_address: ".len();
        rest[at..].lines().next().unwrap().trim().to_string()
    };
    for (me, twin) in [("a", "b"), ("b", "a")] {
        let config = root.join(format!("deploy/compose/{me}.toml"));
        let out = Command::new(env!("CARGO_BIN_EXE_twinmail"))
            .arg("--config")
            .arg(&config)
            .args(["config", "check"])
            .env("TWINMAIL_MIRROR_SECRET", "0123456789abcdef".repeat(4))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{me}: {}",
            String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(
            text.contains(&format!("twin = \"{}:4190\"", address(twin))),
            "{me} does not dial {twin}'s address"
        );
        assert!(text.contains(&format!("twin_id = \"{twin}\"")));
    }
}

/// A mirror secret shorter than 32 random bytes is refused at load, with how to make a
/// good one; 32 bytes in hex or base64 pass.
#[test]
fn a_short_mirror_secret_is_refused_with_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twin.toml");
    std::fs::write(
        &path,
        "[mirror]\ntwin_id = \"b\"\ntwin = \"127.0.0.1:4190\"\nlisten = \"127.0.0.1:4191\"\n\
         secret_file = \"mirror.secret\"\n",
    )
    .unwrap();
    let check = |secret: &str| {
        std::fs::write(dir.path().join("mirror.secret"), secret).unwrap();
        twinmail(
            &["--config", path.to_str().unwrap(), "config", "check"],
            dir.path(),
        )
    };
    for weak in [
        "0123456789abcdef0123456789abcdef\n", // 16 bytes in hex
        "correct horse battery staple\n",
        &"ab".repeat(40),
    ] {
        let out = check(weak);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{weak:?} accepted: {err}");
        assert!(
            err.contains("mirror.secret_file") && err.contains("head -c 32 /dev/urandom | base64"),
            "{err}"
        );
    }
    for good in [
        "6e4f0c7a1b9d2e8f3a5c7b1d9e0f2a4c6e8a0b2d4f6a8c0e2b4d6f8a0c2e4b6d\n",
        "bk8Me6ZJxH2dq1V0mR3sT9uW4yA7cE5gI8kO1nL2pQ0=\n",
    ] {
        let out = check(good);
        assert!(
            out.status.success(),
            "{good:?} refused: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
