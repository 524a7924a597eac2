//! TLS set-up for every listener: the configured certificate, or a self-signed one
//! generated on first start and kept in the data directory. TLS 1.2 and 1.3 only, with
//! ring's forward-secret AEAD suites (rustls has no others).

use std::{path::Path, sync::Arc};

use anyhow::{Context, Result};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

use crate::config::Config;

/// Builds the server-side TLS configuration.
pub fn server_config(config: &Config) -> Result<Arc<rustls::ServerConfig>> {
    let (cert_path, key_path) = match (&config.tls.cert, &config.tls.key) {
        (Some(c), Some(k)) => (config.resolve(c), config.resolve(k)),
        _ => {
            let dir = config.data_dir().join("tls");
            let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
            if !c.exists() || !k.exists() {
                generate(&config.node.hostname, &c, &k)?;
            }
            (c, k)
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect())
        .with_context(|| {
            format!(
                "tls.cert: cannot read certificates from {}",
                cert_path.display()
            )
        })?;
    if certs.is_empty() {
        anyhow::bail!("tls.cert: no certificate in {}", cert_path.display());
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).with_context(|| {
        format!(
            "tls.key: cannot read a private key from {}",
            key_path.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("tls: certificate and key do not match")?;
    Ok(Arc::new(cfg))
}

/// Writes a self-signed certificate for `hostname` (and localhost) with a fresh key.
fn generate(hostname: &str, cert: &Path, key: &Path) -> Result<()> {
    let mut names = vec![hostname.to_string()];
    if hostname != "localhost" {
        names.push("localhost".into());
    }
    let ck = rcgen::generate_simple_self_signed(names).context("generating a certificate")?;
    if let Some(dir) = cert.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_private(key, ck.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert, ck.cert.pem()).with_context(|| format!("writing {}", cert.display()))?;
    tracing::info!(cert = %cert.display(), "generated a self-signed certificate");
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
