//! Mail client autoconfiguration, so a user types only an address and a password:
//! Thunderbird's autoconfig (`GET /.well-known/autoconfig/mail/config-v1.1.xml` and
//! `GET /mail/config-v1.1.xml?emailaddress=...`, the clientConfig 1.1 format) and
//! Outlook's autodiscover (`POST /autodiscover/autodiscover.xml`, the 2006 "POX" schema).
//! Both name every twin's IMAP, POP3 and submission server (implicit TLS, RFC 8314), this
//! twin first, and answer only for the store's local domains: anything else gets 404, so
//! the listener tells a stranger nothing about which domains it does not serve.
//!
//! Unauthenticated by design (clients ask before they have an account), read-only, and
//! on its own listeners (plain HTTP for `http://autoconfig.DOMAIN/`, HTTPS for
//! `https://autodiscover.DOMAIN/`), never on the admin page's.

use std::{fmt::Write as _, net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use tokio::{net::TcpListener, sync::watch};
use tokio_rustls::TlsAcceptor;
use twinmail_store::Store;

/// Largest autodiscover request read (a real one is well under 1 KiB).
const MAX_REQUEST: usize = 16 * 1024;

/// A mail server as clients reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailServer {
    /// Its host name (or address), as a client connects to it.
    pub host: String,
    /// Its TCP port; the service speaks TLS from the first byte on it.
    pub port: u16,
}

impl MailServer {
    /// Parses "host:port" (the config's form); says what is wrong otherwise.
    pub fn parse(text: &str) -> Result<MailServer, String> {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| format!("{text:?} is not host:port"))?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{text:?}: {port:?} is not a port"))?;
        let ok = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !ok {
            return Err(format!("{text:?}: {host:?} is not a host name"));
        }
        Ok(MailServer {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

/// What the answers say: each service's servers, in the order clients should try them.
#[derive(Clone, Debug, Default)]
pub struct AutoconfigSettings {
    /// IMAP over implicit TLS (993 in production), this twin first.
    pub imap: Vec<MailServer>,
    /// POP3 over implicit TLS (995 in production), this twin first.
    pub pop3: Vec<MailServer>,
    /// Submission over implicit TLS (465 in production), this twin first.
    pub smtp: Vec<MailServer>,
}

/// Shared by the handlers.
struct Autoconfig {
    /// The servers to name.
    settings: AutoconfigSettings,
    /// Where the local domains are read (on each request: a domain added on either twin
    /// is answered for at once).
    store: Store,
}

type Shared = State<Arc<Autoconfig>>;

/// The routes, for a listener of either kind.
fn router(settings: AutoconfigSettings, store: Store) -> Router {
    let app = Arc::new(Autoconfig { settings, store });
    Router::new()
        .route(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            get(thunderbird),
        )
        .route("/mail/config-v1.1.xml", get(thunderbird))
        .route("/autodiscover/autodiscover.xml", post(autodiscover))
        .route("/Autodiscover/Autodiscover.xml", post(autodiscover))
        .layer(DefaultBodyLimit::max(MAX_REQUEST))
        .with_state(app)
}

/// Serves autoconfiguration on `listener` until `shutdown`: over TLS with `tls`, else
/// plain HTTP.
pub async fn run_autoconfig(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    settings: AutoconfigSettings,
    store: Store,
    mut shutdown: watch::Receiver<bool>,
) {
    let router = router(settings, store);
    let stop = async move {
        let _ = shutdown.changed().await;
    };
    let served = match tls {
        Some(tls) => {
            let listener = crate::tls::TlsListener::new(listener, tls);
            axum::serve(listener, router)
                .with_graceful_shutdown(stop)
                .await
        }
        None => {
            axum::serve(listener, router)
                .with_graceful_shutdown(stop)
                .await
        }
    };
    if let Err(e) = served {
        tracing::error!(error = %e, "autoconfig listener failed");
    }
}

/// Thunderbird asks with `?emailaddress=ADDRESS` (optional on the well-known path, where
/// the host it asked names the domain).
async fn thunderbird(State(app): Shared, headers: HeaderMap, uri: Uri) -> Response {
    let address = uri
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == "emailaddress").then(|| percent_decode(v))?
        });
    let domain = match address {
        Some(address) => address.rsplit_once('@').map(|(_, d)| d.to_string()),
        None => host_domain(&headers),
    };
    let Some(domain) = local_domain(&app.store, domain.as_deref()).await else {
        return not_here();
    };
    xml(clientconfig(&app.settings, &domain))
}

async fn autodiscover(State(app): Shared, body: String) -> Response {
    let Some(address) = request_address(&body) else {
        return (StatusCode::BAD_REQUEST, "no EMailAddress in the request").into_response();
    };
    let domain = address.rsplit_once('@').map(|(_, d)| d.to_string());
    if local_domain(&app.store, domain.as_deref()).await.is_none() {
        return not_here();
    }
    xml(pox_response(&app.settings, address))
}

/// A query value with its %XX escapes (and '+' for space) decoded; None if that is not
/// UTF-8 or an escape is broken.
fn percent_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        out.push(match b {
            b'+' => b' ',
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?
            }
            b => b,
        });
    }
    String::from_utf8(out).ok()
}

/// The domain a request was sent to: its Host header without the port and without an
/// `autoconfig.` or `autodiscover.` label in front.
fn host_domain(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let host = host
        .strip_prefix("autoconfig.")
        .or_else(|| host.strip_prefix("autodiscover."))
        .unwrap_or(host);
    Some(host.to_string())
}

/// `domain` lower-cased if it is one of the store's local domains.
async fn local_domain(store: &Store, domain: Option<&str>) -> Option<String> {
    let domain = domain?.trim().trim_end_matches('.').to_ascii_lowercase();
    match store.domains().await {
        Ok(local) => local
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&domain))
            .then_some(domain),
        Err(e) => {
            tracing::error!(error = %e, "autoconfig: cannot read the local domains");
            None
        }
    }
}

/// The address in an autodiscover request's `<EMailAddress>` (any namespace prefix),
/// if it looks like one.
fn request_address(body: &str) -> Option<&str> {
    let start = body.find("EMailAddress>")? + "EMailAddress>".len();
    let rest = &body[start..];
    let address = rest[..rest.find('<')?].trim();
    let (local, domain) = address.split_once('@')?;
    (!local.is_empty() && !domain.is_empty() && address.len() <= 320).then_some(address)
}

fn not_here() -> Response {
    (StatusCode::NOT_FOUND, "no such mail domain here").into_response()
}

fn xml(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Thunderbird's clientConfig 1.1 for `domain`
/// (<https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat>).
fn clientconfig(s: &AutoconfigSettings, domain: &str) -> String {
    let d = esc(domain);
    let mut o = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <clientConfig version=\"1.1\">\n\
         \x20 <emailProvider id=\"{d}\">\n\
         \x20   <domain>{d}</domain>\n\
         \x20   <displayName>{d} mail (twinmail)</displayName>\n\
         \x20   <displayShortName>{d}</displayShortName>\n"
    );
    for (kind, servers) in [("imap", &s.imap), ("pop3", &s.pop3)] {
        for server in servers {
            server_xml(&mut o, "incomingServer", kind, server);
        }
    }
    for server in &s.smtp {
        server_xml(&mut o, "outgoingServer", "smtp", server);
    }
    o.push_str("  </emailProvider>\n</clientConfig>\n");
    o
}

fn server_xml(o: &mut String, element: &str, kind: &str, s: &MailServer) {
    let _ = write!(
        o,
        "    <{element} type=\"{kind}\">\n\
         \x20     <hostname>{}</hostname>\n\
         \x20     <port>{}</port>\n\
         \x20     <socketType>SSL</socketType>\n\
         \x20     <authentication>password-cleartext</authentication>\n\
         \x20     <username>%EMAILADDRESS%</username>\n\
         \x20   </{element}>\n",
        esc(&s.host),
        s.port
    );
}

/// Outlook's autodiscover answer for `address`
/// ([MS-OXDSCLI] "POX" response, outlook response schema 2006a).
fn pox_response(s: &AutoconfigSettings, address: &str) -> String {
    let mut o = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n\
         \x20 <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n\
         \x20   <Account>\n\
         \x20     <AccountType>email</AccountType>\n\
         \x20     <Action>settings</Action>\n",
    );
    for (kind, servers) in [("IMAP", &s.imap), ("POP3", &s.pop3), ("SMTP", &s.smtp)] {
        for server in servers {
            let _ = write!(
                o,
                "      <Protocol>\n\
                 \x20       <Type>{kind}</Type>\n\
                 \x20       <Server>{}</Server>\n\
                 \x20       <Port>{}</Port>\n\
                 \x20       <LoginName>{}</LoginName>\n\
                 \x20       <DomainRequired>off</DomainRequired>\n\
                 \x20       <SPA>off</SPA>\n\
                 \x20       <SSL>on</SSL>\n\
                 \x20       <AuthRequired>on</AuthRequired>\n\
                 \x20     </Protocol>\n",
                esc(&server.host),
                server.port,
                esc(address)
            );
        }
    }
    o.push_str("    </Account>\n  </Response>\n</Autodiscover>\n");
    o
}

/// Text made safe inside an XML element or attribute.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The servers a twin names when its config lists none: itself, at its own port.
pub fn default_server(hostname: &str, addr: Option<SocketAddr>) -> Vec<MailServer> {
    addr.map(|a| MailServer {
        host: hostname.to_string(),
        port: a.port(),
    })
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_parse_or_say_why_not() {
        assert_eq!(
            MailServer::parse("MX-A.example.com:993"),
            Ok(MailServer {
                host: "mx-a.example.com".into(),
                port: 993
            })
        );
        for bad in [
            "mx", "mx:", ":993", "mx:0", "mx:99999", "m x:993", "<a>:993",
        ] {
            assert!(MailServer::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_request_address_is_found_with_or_without_a_prefix() {
        let body = "<Autodiscover xmlns=\"x\"><Request><EMailAddress> a@b.example </EMailAddress></Request></Autodiscover>";
        assert_eq!(request_address(body), Some("a@b.example"));
        let prefixed = "<a:Autodiscover xmlns:a=\"x\"><a:Request><a:EMailAddress>u@d</a:EMailAddress></a:Request></a:Autodiscover>";
        assert_eq!(request_address(prefixed), Some("u@d"));
        assert_eq!(request_address("<EMailAddress>nobody</EMailAddress>"), None);
        assert_eq!(request_address("EMailAddress>"), None);
        assert_eq!(request_address(""), None);
    }

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(
            percent_decode("a%40b.example").as_deref(),
            Some("a@b.example")
        );
        assert_eq!(percent_decode("a+b").as_deref(), Some("a b"));
        for bad in ["%", "%4", "%zz", "%ff"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn client_text_is_escaped() {
        let s = AutoconfigSettings {
            imap: vec![MailServer {
                host: "mx".into(),
                port: 993,
            }],
            ..Default::default()
        };
        let out = pox_response(&s, "<x>&\"@d");
        assert!(out.contains("<LoginName>&lt;x&gt;&amp;&quot;@d</LoginName>"));
    }
}
