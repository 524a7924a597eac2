//! `twinmail pair --dir DIR`: a local twin pair for trying twinmail out and for scripts.
//! On first start it writes both twins' configs (loopback ports from the base port), a
//! shared secret, and a demo account on twin a (twin b gets it by the initial sync); then
//! it runs `twinmail serve` for each twin as its own process, writes DIR/pair.json (mode
//! 0600; it names the password files, 0600 too, and holds no password itself), prints
//! three lines a newcomer can paste at once (send with swaks to twin a, read over IMAP on
//! twin b, the status page), and stops both on Ctrl-C or SIGTERM.

use std::{
    path::Path,
    process::{Child, Command, ExitCode},
    time::Duration,
};

use anyhow::{Context, Result};
use serde_json::json;

/// The services of a twin, in port order from the twin's first port.
const SERVICES: [&str; 10] = [
    "smtp",
    "submission",
    "submissions",
    "imap",
    "imaps",
    "pop3",
    "pop3s",
    "mirror",
    "admin",
    "autoconfig",
];

const DEMO_DOMAIN: &str = "example.test";
const DEMO_USER: &str = "demo@example.test";

/// One twin of the pair.
struct Twin {
    /// Its node id.
    id: &'static str,
    /// Its loopback port for each of [`SERVICES`], in that order.
    ports: [u16; SERVICES.len()],
}

impl Twin {
    fn port(&self, service: &str) -> u16 {
        self.ports[SERVICES.iter().position(|s| *s == service).unwrap_or(0)]
    }

    fn config(&self, twin: &Twin) -> String {
        let p = |s| self.port(s);
        format!(
            "# Twin {id} of a local pair, written by `twinmail pair`.\n\
             [node]\nid = \"{id}\"\ndata_dir = \"{id}-data\"\nhostname = \"localhost\"\n\n\
             [smtp]\nlisten = [\"127.0.0.1:{}\"]\nsubmission_listen = [\"127.0.0.1:{}\"]\n\
             submissions_listen = [\"127.0.0.1:{}\"]\n\n\
             [imap]\nlisten = [\"127.0.0.1:{}\"]\ntls_listen = [\"127.0.0.1:{}\"]\n\n\
             [pop3]\nlisten = [\"127.0.0.1:{}\"]\ntls_listen = [\"127.0.0.1:{}\"]\n\n\
             # ManageSieve is off here: the pair's port plan has no room for it yet.\n\
             [managesieve]\nlisten = []\n\n\
             [mirror]\ntwin_id = \"{tid}\"\ntwin = \"127.0.0.1:{}\"\nlisten = \"127.0.0.1:{}\"\n\
             secret_file = \"mirror.secret\"\n\n\
             [autoconfig]\nlisten = [\"127.0.0.1:{}\"]\n\
             imap = [\"localhost:{}\", \"localhost:{}\"]\n\
             pop3 = [\"localhost:{}\", \"localhost:{}\"]\n\
             smtp = [\"localhost:{}\", \"localhost:{}\"]\n",
            p("smtp"),
            p("submission"),
            p("submissions"),
            p("imap"),
            p("imaps"),
            p("pop3"),
            p("pop3s"),
            twin.port("mirror"),
            p("mirror"),
            p("autoconfig"),
            p("imaps"),
            twin.port("imaps"),
            p("pop3s"),
            twin.port("pop3s"),
            p("submissions"),
            twin.port("submissions"),
            id = self.id,
            tid = twin.id,
        )
    }
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("the OS random number generator failed");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs the pair until Ctrl-C.
pub fn run(dir: &Path, base_port: u16) -> ExitCode {
    match pair(dir, base_port) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("twinmail pair: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Both twins' ports: twin a from `base` on, twin b from `base + 10`; with `base` 0, any
/// free ports the system hands out (for tests and scripts that run pairs side by side).
fn ports(base: u16) -> Result<[[u16; SERVICES.len()]; 2]> {
    let mut out = [[0u16; SERVICES.len()]; 2];
    if base == 0 {
        // Hold every listener until all are chosen, so no port is handed out twice.
        let mut held = Vec::new();
        for port in out.iter_mut().flatten() {
            let l = std::net::TcpListener::bind(("127.0.0.1", 0))
                .context("finding a free loopback port")?;
            *port = l.local_addr()?.port();
            held.push(l);
        }
        return Ok(out);
    }
    if base > u16::MAX - 20 {
        anyhow::bail!("--base-port must leave room for 20 ports");
    }
    for (t, twin) in out.iter_mut().enumerate() {
        for (i, port) in twin.iter_mut().enumerate() {
            *port = base + 10 * t as u16 + i as u16;
        }
    }
    Ok(out)
}

fn pair(dir: &Path, base_port: u16) -> Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let [a_ports, b_ports] = ports(base_port)?;
    let twins = [
        Twin {
            id: "a",
            ports: a_ports,
        },
        Twin {
            id: "b",
            ports: b_ports,
        },
    ];
    let secret = dir.join("mirror.secret");
    if !secret.exists() {
        write_private(&secret, &random_hex(32))?;
    }
    let password_file = dir.join("demo.password");
    for (i, t) in twins.iter().enumerate() {
        let path = dir.join(format!("{}.toml", t.id));
        if !path.exists() {
            std::fs::write(&path, t.config(&twins[1 - i]))
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let admin_file = dir.join("admin.password");
    if !password_file.exists() {
        let (password, admin) = (random_hex(8), random_hex(8));
        let hash = create_demo(&dir.join("a.toml"), &password, &admin)?;
        for t in &twins {
            let path = dir.join(format!("{}.toml", t.id));
            let mut text = std::fs::read_to_string(&path)?;
            text.push_str(&format!(
                "\n[admin]\nlisten = \"127.0.0.1:{}\"\nuser = \"admin\"\npassword_hash = \"{hash}\"\n",
                t.port("admin")
            ));
            std::fs::write(&path, text)?;
        }
        write_private(&admin_file, &admin)?;
        write_private(&password_file, &password)?;
    }
    // The ports as the configs say: on a later start they were chosen by an earlier one
    // (perhaps with another --base-port, or at random).
    let mut twins = twins;
    for t in &mut twins {
        t.ports = ports_of(&load(&dir.join(format!("{}.toml", t.id)))?);
    }
    let password = std::fs::read_to_string(&password_file)?.trim().to_string();
    let admin = std::fs::read_to_string(&admin_file)
        .unwrap_or_default()
        .trim()
        .to_string();
    let exe = std::env::current_exe().context("finding the twinmail binary")?;
    let mut children: Vec<Child> = Vec::new();
    for t in &twins {
        let child = Command::new(&exe)
            .arg("serve")
            .arg("--config")
            .arg(dir.join(format!("{}.toml", t.id)))
            .spawn()
            .with_context(|| format!("starting twin {}", t.id))?;
        children.push(child);
    }
    let facts = json!({
        "twins": twins.iter().zip(&children).map(|(t, c)| json!({
            "id": t.id,
            "config": dir.join(format!("{}.toml", t.id)),
            "pid": c.id(),
            "ports": SERVICES.iter().map(|s| (s.to_string(), json!(t.port(s)))).collect::<serde_json::Map<_, _>>(),
            "status_url": format!("https://127.0.0.1:{}/", t.port("admin")),
        })).collect::<Vec<_>>(),
        // Passwords stay in their own 0600 files; the facts only say where.
        "demo": { "user": DEMO_USER, "password_file": password_file },
        "admin": { "user": "admin", "password_file": admin_file },
    });
    rewrite_private(
        &dir.join("pair.json"),
        &serde_json::to_string_pretty(&facts)?,
    )?;
    if let Err(e) = wait_until_listening(&twins, &mut children) {
        stop(&mut children);
        return Err(e);
    }
    println!("twinmail pair running in {}", dir.display());
    for t in &twins {
        println!(
            "  twin {}: SMTP 127.0.0.1:{}  IMAP 127.0.0.1:{} (STARTTLS) / {} (TLS)  POP3 {} / {}",
            t.id,
            t.port("smtp"),
            t.port("imap"),
            t.port("imaps"),
            t.port("pop3"),
            t.port("pop3s")
        );
    }
    println!("  demo account: {DEMO_USER}  password: {password}");
    for t in &twins {
        println!(
            "  status page of twin {}: https://127.0.0.1:{}/ (user admin, password {admin})",
            t.id,
            t.port("admin")
        );
    }
    for t in &twins {
        // Generated by the twin at its first start, so readable now that it answers.
        let cert = dir.join(format!("{}-data/tls/cert.pem", t.id));
        if let Ok(pin) = crate::tls::spki_fingerprint(&cert) {
            println!(
                "  twin {}'s certificate key (its twin's mirror.twin_cert_sha256): {pin}",
                t.id
            );
        }
    }
    println!(
        "  mirror status: twinmail mirror status --config {}",
        dir.join("a.toml").display()
    );
    println!("  facts for scripts: {}", dir.join("pair.json").display());
    println!("Ctrl-C stops both twins.");
    let [a, b] = &twins;
    println!(
        "Try it: send to twin a, read on twin b, open twin a's status page (user admin, password {admin}):"
    );
    for line in try_lines(a, b, &password) {
        println!("  {line}");
    }
    let waited = wait_for_signal(&mut children);
    stop(&mut children);
    waited.map(|()| ExitCode::SUCCESS)
}

/// The three lines a newcomer pastes: swaks sends to twin a's MX port, curl prints the
/// newest INBOX message (`*`) over IMAPS from twin b (the certificate is self-signed,
/// hence --insecure), and twin a's status page for a browser.
fn try_lines(a: &Twin, b: &Twin, password: &str) -> [String; 3] {
    [
        format!(
            "swaks --server 127.0.0.1:{} --from newcomer@example.org --to {DEMO_USER} --header 'Subject: hello, twins'",
            a.port("smtp")
        ),
        format!(
            "curl --silent --insecure --user '{DEMO_USER}:{password}' 'imaps://127.0.0.1:{}/INBOX;MAILINDEX=*'",
            b.port("imaps")
        ),
        format!("https://127.0.0.1:{}/", a.port("admin")),
    ]
}

/// Waits until every twin accepts connections on its SMTP and admin ports, so what is
/// printed next works at once; fails if a twin exits or a minute passes.
fn wait_until_listening(twins: &[Twin], children: &mut [Child]) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for (t, c) in twins.iter().zip(children.iter_mut()) {
        for service in ["smtp", "admin"] {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], t.port(service)));
            while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if let Ok(Some(status)) = c.try_wait() {
                    anyhow::bail!("twin {} exited ({status}); its messages are above", t.id);
                }
                if std::time::Instant::now() > deadline {
                    anyhow::bail!("twin {} does not answer on {addr} after a minute", t.id);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    Ok(())
}

/// Stops both twins with SIGTERM (they finish in-flight writes) and waits for them.
fn stop(children: &mut [Child]) {
    for c in children.iter_mut() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
    }
    for c in children.iter_mut() {
        let _ = c.wait();
    }
}

/// A twin's config, or every problem in it as one error.
fn load(path: &Path) -> Result<crate::config::Config> {
    crate::config::Config::load(path).map_err(|p| {
        anyhow::anyhow!(
            "{}",
            p.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })
}

/// The port of each of [`SERVICES`] in a twin's config (0 where it has none).
fn ports_of(c: &crate::config::Config) -> [u16; SERVICES.len()] {
    let first = |addrs: &[std::net::SocketAddr]| addrs.first().map_or(0, |a| a.port());
    let one = |addr: Option<std::net::SocketAddr>| addr.map_or(0, |a| a.port());
    [
        first(&c.smtp.listen),
        first(&c.smtp.submission_listen),
        first(&c.smtp.submissions_listen),
        first(&c.imap.listen),
        first(&c.imap.tls_listen),
        first(&c.pop3.listen),
        first(&c.pop3.tls_listen),
        one(c.mirror.listen),
        one(c.admin.listen),
        first(&c.autoconfig.listen),
    ]
}

/// Waits for Ctrl-C / SIGTERM, or for both twins to have exited.
fn wait_for_signal(children: &mut [Child]) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(()),
                _ = term.recv() => return Ok(()),
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    if children.iter_mut().all(|c| matches!(c.try_wait(), Ok(Some(_)))) {
                        eprintln!("twinmail pair: both twins exited");
                        return Ok(());
                    }
                }
            }
        }
    })
}

/// Creates the demo domain and account on twin a (the mirror brings them to b); returns
/// the argon2id hash of the admin password.
fn create_demo(config: &Path, password: &str, admin: &str) -> Result<String> {
    let config = load(config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = twinmail_store::Store::open(config.store_options()).await?;
        store.add_domain(DEMO_DOMAIN).await?;
        store.create_account(DEMO_USER, password).await?;
        let hash = store.hash_password(admin).await?;
        store.close().await;
        Ok(hash)
    })
}

/// Writes `text` to `path`, replacing what was there, readable by this user alone (also
/// when an older twinmail left the file readable to others).
fn rewrite_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_file(path);
    write_private(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}
