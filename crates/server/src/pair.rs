//! `twinmail pair --dir DIR`: a local twin pair for trying twinmail out and for scripts.
//! On first start it writes both twins' configs (loopback ports from the base port), a
//! shared secret, and a demo account on twin a (twin b gets it by the initial sync); then
//! it runs `twinmail serve` for each twin as its own process, writes DIR/pair.json, and
//! stops both on Ctrl-C or SIGTERM.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, ExitCode},
    time::Duration,
};

use anyhow::{Context, Result};
use serde_json::json;

/// The services of a twin, in port order from the twin's first port.
const SERVICES: [&str; 9] = [
    "smtp",
    "submission",
    "submissions",
    "imap",
    "imaps",
    "pop3",
    "pop3s",
    "mirror",
    "admin",
];

const DEMO_DOMAIN: &str = "example.test";
const DEMO_USER: &str = "demo@example.test";

/// One twin of the pair.
struct Twin {
    /// Its node id.
    id: &'static str,
    /// Its first port.
    base: u16,
}

impl Twin {
    fn port(&self, service: &str) -> u16 {
        self.base + SERVICES.iter().position(|s| *s == service).unwrap_or(0) as u16
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
             [mirror]\ntwin_id = \"{tid}\"\ntwin = \"127.0.0.1:{}\"\nlisten = \"127.0.0.1:{}\"\n\
             secret_file = \"mirror.secret\"\n",
            p("smtp"),
            p("submission"),
            p("submissions"),
            p("imap"),
            p("imaps"),
            p("pop3"),
            p("pop3s"),
            twin.port("mirror"),
            p("mirror"),
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

fn pair(dir: &Path, base_port: u16) -> Result<ExitCode> {
    if base_port > u16::MAX - 20 {
        anyhow::bail!("--base-port must leave room for 20 ports");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let twins = [
        Twin {
            id: "a",
            base: base_port,
        },
        Twin {
            id: "b",
            base: base_port + 10,
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
        "demo": { "user": DEMO_USER, "password": password },
        "admin": { "user": "admin", "password": admin },
    });
    std::fs::write(dir.join("pair.json"), serde_json::to_string_pretty(&facts)?)?;
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
    println!(
        "  mirror status: twinmail mirror status --config {}",
        dir.join("a.toml").display()
    );
    println!("  facts for scripts: {}", dir.join("pair.json").display());
    println!("Ctrl-C stops both twins.");
    wait_for_signal(&mut children)?;
    for c in &mut children {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
    }
    for c in &mut children {
        let _ = c.wait();
    }
    Ok(ExitCode::SUCCESS)
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
    let config = crate::config::Config::load(config).map_err(|p| {
        anyhow::anyhow!(
            "{}",
            p.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
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

fn write_private(path: &PathBuf, text: &str) -> Result<()> {
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
