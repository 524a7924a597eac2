//! The config file: TOML, every key documented, unknown keys refused. `load` reports every
//! problem it finds at once, each naming the file and the key.

pub(crate) mod macros;

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use macros::{Documented, section};
use serde::{Deserialize, Serialize};

section! {
    /// This twin: its identity and where it keeps its data.
    pub struct NodeConfig {
        /// This node's id, written into every change it logs: 1-32 of a-z, 0-9, '-'.
        /// The two twins of a pair must have different ids.
        pub id: String = "a".to_string(),
        /// Directory for the database, generated certificates and other state.
        /// A relative path is taken from the config file's directory.
        pub data_dir: PathBuf = PathBuf::from("twinmail-data"),
        /// The name this server announces (SMTP greeting, Received headers, certificate).
        pub hostname: String = "localhost".to_string(),
    }
}

section! {
    /// The mailbox store (SQLite, embedded).
    pub struct StoreConfig {
        /// The SQLite database file; relative paths are taken from data_dir.
        pub path: PathBuf = PathBuf::from("twinmail.db"),
        /// Connections kept open for readers.
        pub read_connections: u32 = 8,
        /// Most password hashes computed at once. Each slot keeps password_memory_kib of
        /// working memory once used (reused, never freed: freeing fragments the heap).
        /// 0: one per CPU core, at most 4 (more than the cores only queues for CPU).
        pub max_concurrent_hashes: usize = 0,
        /// argon2id memory per new password hash, in KiB.
        pub password_memory_kib: u32 = 19456,
        /// argon2id passes per new password hash.
        pub password_passes: u32 = 2,
        /// Days a tombstone of an expunged message is kept: longer than any split the
        /// twins should merge (a longer one is reported, not merged). The bytes of expunged
        /// mail are removed within hours of nothing needing them.
        pub tombstone_days: u32 = 30,
    }
}

section! {
    /// SMTP: inbound mail (MX) and submission for the users' mail clients.
    pub struct SmtpConfig {
        /// Addresses for inbound mail from other servers (port 25 in production).
        /// An empty list disables the service.
        pub listen: Vec<SocketAddr> = vec![SocketAddr::from(([127, 0, 0, 1], 2525))],
        /// Addresses for submission with STARTTLS (port 587 in production).
        pub submission_listen: Vec<SocketAddr> = vec![SocketAddr::from(([127, 0, 0, 1], 2587))],
        /// Addresses for submission over implicit TLS (port 465 in production).
        pub submissions_listen: Vec<SocketAddr> = vec![SocketAddr::from(([127, 0, 0, 1], 2465))],
        /// Largest message accepted, in bytes.
        pub max_message_size: usize = 50 * 1024 * 1024,
        /// Most recipients per message.
        pub max_recipients: usize = 100,
        /// Errors a session may make before it is disconnected.
        pub max_errors: u32 = 10,
        /// Extra delay per error beyond the second, in milliseconds.
        pub error_delay_ms: u64 = 1000,
        /// Seconds to wait for a command once logged in (submission).
        pub command_timeout_secs: u64 = 300,
        /// Seconds to wait for a command before login; MX sessions never log in, so this
        /// is their wait for every command.
        pub login_timeout_secs: u64 = 60,
        /// Seconds to wait for a command before login while three quarters of
        /// max_connections are in use (Postfix's stress mode).
        pub stress_login_timeout_secs: u64 = 10,
        /// Seconds a submission session may stay unauthenticated, however busy it keeps.
        pub login_deadline_secs: u64 = 120,
        /// Seconds one command line may take to arrive once its first byte has (a client
        /// sending a byte every few seconds is closed with 421).
        pub command_deadline_secs: u64 = 60,
        /// Seconds to wait for each piece of message data.
        pub data_timeout_secs: u64 = 600,
        /// Seconds one message (DATA) or BDAT chunk may take to arrive in all.
        pub data_deadline_secs: u64 = 1800,
        /// Most simultaneous sessions per listener.
        pub max_connections: usize = 1000,
        /// Most simultaneous sessions from one IP address.
        pub max_connections_per_ip: usize = 20,
        /// Delay in milliseconds per recent failed login from the same IP (grows, capped at 10x).
        pub auth_failure_delay_ms: u64 = 1000,
        /// Drop clients that do not wait for replies where SMTP says they must: talking
        /// before the greeting (554), or sending commands ahead of the reply to EHLO, NOOP,
        /// VRFY, AUTH or DATA, or to any command without PIPELINING (421; RFC 2920).
        pub enforce_sync: bool = true,
        /// Milliseconds to wait before the greeting for a client that talks first (an
        /// early talker, see enforce_sync). 0 still catches what came with the connection;
        /// a few seconds on the MX port catch more bots and delay every session as much.
        pub greet_delay_ms: u64 = 0,
        /// NOOP, RSET, VRFY, EXPN and HELP commands a session may send before each further
        /// one counts as an error (towards max_errors); counted afresh after each message.
        pub junk_command_limit: u32 = 100,
        /// File a `\Seen` copy of what a logged-in user sends through submission in their
        /// Sent folder, so their client need not upload it again. Each user can override
        /// this with the server METADATA entry
        /// /private/vendor/vendor.twinmail/save-sent ("yes" or "no"). Off by default:
        /// most clients save their own copy, and two would be one too many.
        pub save_sent: bool = false,
    }
}

section! {
    /// Outbound mail: what logged-in users send to other domains is queued durably (and
    /// mirrored: the twin delivers it if this twin is gone longer than the lease), signed
    /// with the domain's DKIM keys (`twinmail dkim generate`), and delivered to each
    /// domain's MX with opportunistic STARTTLS, or through a smarthost.
    pub struct OutboundConfig {
        /// Accept mail for other domains from logged-in users on submission; off, such
        /// recipients are refused with 554 5.7.1.
        pub enabled: bool = true,
        /// Send everything through this smarthost ("host:port") instead of each domain's
        /// MX: for servers whose address cannot send on port 25.
        pub relay_host: Option<String> = None,
        /// The smarthost's TLS: "starttls" (required, its certificate checked), "tls"
        /// (implicit TLS, port 465) or "none" (a trusted network only).
        pub relay_tls: String = "starttls".to_string(),
        /// The smarthost login, if it wants one.
        pub relay_user: Option<String> = None,
        /// A file whose first line is the smarthost password.
        pub relay_password_file: Option<PathBuf> = None,
        /// The port remote MXes listen on: 25. Change it only in a lab.
        pub mx_port: u32 = 25,
        /// Seconds between attempts: the n-th retry waits the n-th value; the last repeats.
        pub retry_secs: Vec<u64> = vec![60, 300, 900, 1800, 3600, 7200, 14400],
        /// Hours a message is retried before it is returned to its sender.
        pub max_age_hours: u64 = 120,
        /// Hours after which the sender is told (once) that a message is late; 0: never.
        pub delay_notice_hours: u64 = 4,
        /// Seconds the twin that owns a queued message must be unreachable before this twin
        /// delivers it instead. Shorter means less delay after a twin dies, and more
        /// messages sent twice when only the link between the twins was down.
        pub lease_secs: u64 = 900,
        /// Most connections to other servers open at once.
        pub max_connections: usize = 100,
        /// Most connections to one destination (a domain's MXes, or the smarthost) at
        /// once, like Postfix's default_destination_concurrency_limit.
        pub per_destination_connections: usize = 20,
        /// Most messages sent to one destination per minute, 0 for no limit (like
        /// Postfix's destination rate delay, for receivers that throttle senders); the
        /// rest wait for their next retry.
        pub per_destination_rate: u32 = 0,
        /// Seconds to wait to connect and for each reply.
        pub timeout_secs: u64 = 60,
    }
}

section! {
    /// IMAP for mail clients (Thunderbird, mutt, phones, mbsync).
    pub struct ImapConfig {
        /// Addresses for IMAP with STARTTLS (port 143 in production); empty disables it.
        pub listen: Vec<SocketAddr> = vec![SocketAddr::from(([127, 0, 0, 1], 2143))],
        /// Addresses for IMAP over implicit TLS (port 993 in production).
        pub tls_listen: Vec<SocketAddr> = vec![SocketAddr::from(([127, 0, 0, 1], 2993))],
        /// Largest literal (e.g. an APPENDed message) accepted, in bytes.
        pub max_literal_size: u32 = 50 * 1024 * 1024,
        /// Most sessions using COMPRESS=DEFLATE at once (about 300 KiB each); past it
        /// COMPRESS is refused with NO [LIMIT] and clients go on uncompressed.
        pub max_compressed_sessions: usize = 1000,
        /// Most NOTIFY (RFC 5465) notifications one session holds for its client (other
        /// mailboxes' news, and the selected one's held changes); past it the client is
        /// told NOTIFICATIONOVERFLOW and NOTIFY ends for that session.
        pub max_notifications: usize = 1000,
        /// Seconds a client may stay silent before login.
        pub login_timeout_secs: u64 = 60,
        /// Seconds a client may stay silent before login while three quarters of
        /// max_connections are in use (Postfix's stress mode).
        pub stress_login_timeout_secs: u64 = 10,
        /// Seconds a session may stay unauthenticated, however busy it keeps.
        pub login_deadline_secs: u64 = 120,
        /// Seconds one command without literals may take to arrive once its first byte has.
        pub command_deadline_secs: u64 = 60,
        /// Seconds one command with literals (an APPEND) may take to arrive in all.
        pub literal_deadline_secs: u64 = 1800,
        /// Most simultaneous sessions per listener.
        pub max_connections: usize = 5000,
        /// Most simultaneous sessions from one IP address.
        pub max_connections_per_ip: usize = 50,
        /// Most simultaneous logged-in sessions of one user.
        pub max_sessions_per_user: usize = 50,
        /// Delay in milliseconds per recent failed login from the same IP (grows, capped at 10x).
        pub auth_failure_delay_ms: u64 = 1000,
        /// Accept passwords without TLS from loopback clients (local tools only).
        pub plaintext_auth_on_loopback: bool = false,
    }
}

section! {
    /// POP3 for mail clients that download and delete.
    pub struct Pop3Config {
        /// Addresses for POP3 with STLS (port 110 in production); empty disables it.
        pub listen: Vec<SocketAddr> = vec![SocketAddr::from(([127, 0, 0, 1], 2110))],
        /// Addresses for POP3 over implicit TLS (port 995 in production).
        pub tls_listen: Vec<SocketAddr> = vec![SocketAddr::from(([127, 0, 0, 1], 2995))],
        /// Seconds to wait for a command once logged in (RFC 1939: at least 600).
        pub command_timeout_secs: u64 = 600,
        /// Seconds to wait for a command before login.
        pub login_timeout_secs: u64 = 60,
        /// Seconds to wait for a command before login while three quarters of
        /// max_connections are in use (Postfix's stress mode).
        pub stress_login_timeout_secs: u64 = 10,
        /// Seconds a session may stay unauthenticated, however busy it keeps.
        pub login_deadline_secs: u64 = 120,
        /// Seconds one command line may take to arrive once its first byte has.
        pub command_deadline_secs: u64 = 60,
        /// Errors a session may make before it is disconnected.
        pub max_errors: u32 = 10,
        /// Most simultaneous sessions per listener.
        pub max_connections: usize = 1000,
        /// Most simultaneous sessions from one IP address.
        pub max_connections_per_ip: usize = 20,
        /// Delay in milliseconds per recent failed login from the same IP (grows, capped at 10x).
        pub auth_failure_delay_ms: u64 = 1000,
        /// Accept passwords without TLS from loopback clients (local tools only).
        pub plaintext_auth_on_loopback: bool = false,
    }
}

section! {
    /// ManageSieve (RFC 5804) for mail clients' Sieve filter editors (Thunderbird,
    /// Roundcube): scripts are checked before they are stored, and mirror to the twin.
    /// Passwords are accepted only after STARTTLS.
    pub struct ManageSieveConfig {
        /// Addresses for ManageSieve with STARTTLS (port 4190 in production); empty
        /// disables it.
        pub listen: Vec<SocketAddr> = vec![SocketAddr::from(([127, 0, 0, 1], 4190))],
        /// Seconds to wait for a command once logged in.
        pub command_timeout_secs: u64 = 600,
        /// Seconds to wait for a command before login.
        pub login_timeout_secs: u64 = 60,
        /// Seconds a session may stay unauthenticated, however busy it keeps.
        pub login_deadline_secs: u64 = 120,
        /// Seconds one command (its lines and literals) may take to arrive once its
        /// first byte has.
        pub command_deadline_secs: u64 = 60,
        /// Errors a session may make before it is disconnected.
        pub max_errors: u32 = 10,
        /// Delay in milliseconds added per error beyond the second.
        pub error_delay_ms: u64 = 1000,
        /// Most simultaneous sessions per listener.
        pub max_connections: usize = 1000,
        /// Most simultaneous sessions from one IP address.
        pub max_connections_per_ip: usize = 20,
        /// Delay in milliseconds per recent failed login from the same IP (grows, capped at 10x).
        pub auth_failure_delay_ms: u64 = 1000,
        /// Accept passwords without TLS from loopback clients (local tools only).
        pub plaintext_auth_on_loopback: bool = false,
    }
}

section! {
    /// Limits per client address and on password checks, for every protocol. An
    /// "address" is an IPv4 address or an IPv6 prefix (ipv6_prefix): the per-address
    /// connection caps of each protocol, failed-login delays and these rates count by it.
    pub struct LimitsConfig {
        /// IPv6 clients sharing this many leading bits count as one (64: a /64, what one
        /// host or customer gets; 128: each address alone).
        pub ipv6_prefix: u32 = 64,
        /// New connections one address may open per minute to each protocol (also its
        /// burst); more are refused like connections over max_connections_per_ip. 0: no
        /// limit.
        pub connections_per_minute: u32 = 100,
        /// TLS handshakes (implicit TLS and STARTTLS, all protocols) one address may start
        /// per minute; more are closed before any handshake work. 0: no limit.
        pub tls_handshakes_per_minute: u32 = 100,
        /// Logins waiting for or computing a password hash, all protocols together; one
        /// more gets a temporary failure at once (SMTP 454, POP3 -ERR [SYS/TEMP]).
        pub max_logins_in_flight: usize = 32,
        /// Of those, from one address.
        pub max_logins_in_flight_per_ip: usize = 4,
        /// Loopback clients (local tools, a proxy on this host) are exempt from the two
        /// rates above.
        pub exempt_loopback: bool = true,
        /// Most bytes of messages being received (SMTP DATA and BDAT) held in memory by
        /// all sessions together; a message that would go past it gets 451 4.3.1 and is
        /// retried later by its sender.
        pub max_message_bytes_in_flight: usize = 512 * 1024 * 1024,
    }
}

section! {
    /// TLS for every listener. With no certificate configured, a self-signed one for
    /// node.hostname is generated on first start and kept in data_dir/tls/.
    pub struct TlsConfig {
        /// PEM file with the certificate chain, leaf first.
        pub cert: Option<PathBuf> = None,
        /// PEM file with the private key of that certificate.
        pub key: Option<PathBuf> = None,
    }
}

section! {
    /// The mirror: the link to this twin's twin. With twin_id empty, this server runs alone.
    pub struct MirrorConfig {
        /// The twin's node id (its node.id); empty runs this server alone, unmirrored.
        pub twin_id: String = String::new(),
        /// The twin's mirror address. Of the two, the twin whose id sorts first dials.
        pub twin: Option<SocketAddr> = None,
        /// This twin's mirror listener (reachable by the twin only: firewall it).
        pub listen: Option<SocketAddr> = None,
        /// File holding the shared secret: at least 32 random bytes (64 hex digits or 44
        /// base64 characters), the same on both twins; keep it mode 0600. Make one with
        /// `head -c 32 /dev/urandom | base64`. The environment variable
        /// TWINMAIL_MIRROR_SECRET overrides it. Never logged.
        pub secret_file: Option<PathBuf> = None,
        /// The twin's certificate, pinned: the SHA-256 of its public key (SPKI) in hex, as
        /// `twinmail cert fingerprint CERT.pem` (or `twinmail pair`) prints it. The link
        /// then refuses a twin presenting another key (or, dialing in, none), whichever
        /// side dials, before any frame. Empty: any
        /// certificate (the secret proof alone says who the twin is). A generated
        /// certificate keeps its key when renewed, so its pin stays valid.
        pub twin_cert_sha256: String = String::new(),
        /// "async": answer clients at once and mirror right after (the default).
        /// "sync": SMTP 250 and APPEND OK wait until the twin has stored the message too,
        /// for at most sync_timeout_ms; then async until the twin catches up (the status
        /// says so).
        pub mode: String = "async".to_string(),
        /// Sync mode: longest wait for the twin, in milliseconds.
        pub sync_timeout_ms: u64 = 2000,
        /// Seconds between heartbeats; three missed ones drop the link.
        pub heartbeat_secs: u64 = 5,
        /// Longest wait between reconnection attempts, in seconds. A twin that starts
        /// wakes its dialing twin at once, so a restart never waits out this backoff.
        pub max_backoff_secs: u64 = 30,
        /// Longest a client's write is held, in seconds, while it waits for the link to
        /// come back (within the grace period), for the home twin's answer, or for this
        /// twin to catch up with its twin's backlog after a start. Past it the client hears
        /// a temporary failure (SMTP 451, IMAP NO) and its retry is recognised.
        pub write_wait_secs: u64 = 30,
        /// Seconds between audits: while the link is up and quiet, the twin compares
        /// itself with its twin (as `twinmail mirror verify`) and shows the result on the
        /// status page. 0 turns audits off.
        pub audit_interval_secs: u64 = 3600,
    }
}

section! {
    /// The admin web page: status, mirror panel, JSON (/api/status) and Prometheus
    /// metrics (/metrics), over TLS with HTTP basic authentication. Not started without
    /// a password hash.
    pub struct AdminConfig {
        /// Address of the admin page; keep it on loopback or a management network.
        pub listen: Option<SocketAddr> = Some(SocketAddr::from(([127, 0, 0, 1], 2880))),
        /// The admin's user name.
        pub user: String = "admin".to_string(),
        /// argon2id PHC string of the admin's password (`twinmail hash-password` makes
        /// one); empty leaves the admin page off.
        pub password_hash: String = String::new(),
    }
}

section! {
    /// Mail client autoconfiguration: Thunderbird's autoconfig
    /// (/.well-known/autoconfig/mail/config-v1.1.xml and
    /// /mail/config-v1.1.xml?emailaddress=...) and Outlook's autodiscover (POST
    /// /autodiscover/autodiscover.xml), answered for the local domains only. Both twins
    /// should list the same servers, so a client is told about both.
    pub struct AutoconfigConfig {
        /// Plain-HTTP addresses (port 80 in production, where autoconfig.DOMAIN points);
        /// empty: none.
        pub listen: Vec<SocketAddr> = Vec::new(),
        /// HTTPS addresses with the server's certificate (port 443 in production;
        /// autodiscover.DOMAIN must be among its names for Outlook); empty: none.
        pub tls_listen: Vec<SocketAddr> = Vec::new(),
        /// IMAP over implicit TLS as clients reach it, "host:port", this twin first, e.g.
        /// ["mx-a.example.com:993", "mx-b.example.com:993"]. Empty: node.hostname with the
        /// port of the first imap.tls_listen.
        pub imap: Vec<String> = Vec::new(),
        /// POP3 over implicit TLS as clients reach it, "host:port" (as imap). Empty:
        /// node.hostname with the port of the first pop3.tls_listen.
        pub pop3: Vec<String> = Vec::new(),
        /// Submission over implicit TLS as clients reach it, "host:port" (as imap). Empty:
        /// node.hostname with the port of the first smtp.submissions_listen.
        pub smtp: Vec<String> = Vec::new(),
    }
}

section! {
    /// Inbound filtering of mail received on smtp.listen (port 25), run once, on the twin
    /// that received it (the other twin gets the finished message): sender
    /// authentication, clamd's virus check and rspamd's spam check, in `order`. A message
    /// filed into Junk goes to each recipient's Junk folder.
    pub struct FilterConfig {
        /// The order the filters run in: any of "auth", "clamd", "rspamd", each at most
        /// once; a filter left out does not run.
        pub order: Vec<String> = vec!["auth".into(), "clamd".into(), "rspamd".into()],
        /// Check SPF (HELO and MAIL FROM), DKIM, ARC and DMARC through DNS and add an
        /// Authentication-Results field naming node.hostname (submission is not checked).
        pub auth: bool = true,
        /// Refuse (550 5.7.1) mail failing DMARC whose domain publishes p=reject; false
        /// files it into Junk, as mail failing under p=quarantine always is.
        pub dmarc_reject: bool = false,
        /// Do not look up mail from loopback addresses (local programs); it is marked
        /// "none".
        pub auth_skip_local: bool = true,
        /// Seconds all DNS lookups for one message may take before it is marked
        /// temperror and passed on.
        pub auth_timeout_secs: u64 = 20,
        /// Where clamd listens: "host:port" or the path of its Unix socket (e.g.
        /// "/run/clamav/clamd.ctl"). Unset: no virus check. Infected mail gets 554 5.7.1.
        pub clamd: Option<String> = None,
        /// Seconds a clamd scan may take.
        pub clamd_timeout_secs: u64 = 30,
        /// With clamd down: true passes mail unscanned, false answers 451 4.7.1.
        pub clamd_fail_open: bool = false,
        /// Where rspamd's normal worker listens: "host:port" (rspamd's default is
        /// "127.0.0.1:11333") or a Unix socket's path. Unset: no spam check. rspamd's
        /// action decides: "add header" files into Junk, "rewrite subject" marks the
        /// subject, "greylist"/"soft reject" answer 451, "reject" 550.
        pub rspamd: Option<String> = None,
        /// Seconds an rspamd check may take.
        pub rspamd_timeout_secs: u64 = 15,
        /// With rspamd down: true passes mail unchecked, false answers 451 4.7.1.
        pub rspamd_fail_open: bool = true,
    }
}

section! {
    /// Logging (to standard error).
    pub struct LogConfig {
        /// "pretty" for people or "json" for log collectors.
        pub format: String = "pretty".to_string(),
        /// A tracing filter such as "info" or "twinmail_store=debug,info"; RUST_LOG overrides it.
        pub level: String = "info".to_string(),
    }
}

/// The whole config file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// See [`NodeConfig`].
    pub node: NodeConfig,
    /// See [`StoreConfig`].
    pub store: StoreConfig,
    /// See [`SmtpConfig`].
    pub smtp: SmtpConfig,
    /// See [`OutboundConfig`].
    pub outbound: OutboundConfig,
    /// See [`ImapConfig`].
    pub imap: ImapConfig,
    /// See [`Pop3Config`].
    pub pop3: Pop3Config,
    /// See [`ManageSieveConfig`].
    pub managesieve: ManageSieveConfig,
    /// See [`LimitsConfig`].
    pub limits: LimitsConfig,
    /// See [`TlsConfig`].
    pub tls: TlsConfig,
    /// See [`MirrorConfig`].
    pub mirror: MirrorConfig,
    /// See [`AdminConfig`].
    pub admin: AdminConfig,
    /// See [`AutoconfigConfig`].
    pub autoconfig: AutoconfigConfig,
    /// See [`FilterConfig`].
    pub filter: FilterConfig,
    /// See [`LogConfig`].
    pub log: LogConfig,
    /// The directory relative paths are resolved from (the config file's); not in the file.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Each section: its key, doc comment and fields.
type SectionInfo = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const SECTIONS: &[SectionInfo] = &[
    ("node", NodeConfig::DOC, NodeConfig::FIELDS),
    ("store", StoreConfig::DOC, StoreConfig::FIELDS),
    ("smtp", SmtpConfig::DOC, SmtpConfig::FIELDS),
    ("outbound", OutboundConfig::DOC, OutboundConfig::FIELDS),
    ("imap", ImapConfig::DOC, ImapConfig::FIELDS),
    ("pop3", Pop3Config::DOC, Pop3Config::FIELDS),
    (
        "managesieve",
        ManageSieveConfig::DOC,
        ManageSieveConfig::FIELDS,
    ),
    ("limits", LimitsConfig::DOC, LimitsConfig::FIELDS),
    ("tls", TlsConfig::DOC, TlsConfig::FIELDS),
    ("mirror", MirrorConfig::DOC, MirrorConfig::FIELDS),
    ("admin", AdminConfig::DOC, AdminConfig::FIELDS),
    (
        "autoconfig",
        AutoconfigConfig::DOC,
        AutoconfigConfig::FIELDS,
    ),
    ("filter", FilterConfig::DOC, FilterConfig::FIELDS),
    ("log", LogConfig::DOC, LogConfig::FIELDS),
];

/// One thing wrong with a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// The key (`section.key`), or empty for the file as a whole.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.message)
        }
    }
}

impl Config {
    /// The built-in defaults, with relative paths taken from the current directory.
    pub fn embedded() -> Config {
        Config {
            base_dir: PathBuf::from("."),
            ..Config::default()
        }
    }

    /// Reads, checks and returns a config file, or every problem found in it.
    pub fn load(path: &Path) -> Result<Config, Vec<Problem>> {
        let file = path.display().to_string();
        let problem = |key: &str, message: String| Problem {
            file: file.clone(),
            key: key.to_string(),
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![problem("", format!("cannot read: {e}"))])?;
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            vec![problem("", e.to_string().trim_end().to_string())]
        })?;
        let mut problems = Vec::new();
        // Unknown sections and keys: every one reported, then removed so that the known
        // keys can still be checked.
        table.retain(|section, value| {
            let Some((_, _, fields)) = SECTIONS.iter().find(|s| s.0 == section) else {
                problems.push(problem(section, "unknown section".into()));
                return false;
            };
            let Some(t) = value.as_table_mut() else {
                problems.push(problem(section, "must be a table ([section])".into()));
                return false;
            };
            t.retain(|key, _| {
                let known = fields.iter().any(|f| f.0 == key);
                if !known {
                    problems.push(problem(&format!("{section}.{key}"), "unknown key".into()));
                }
                known
            });
            true
        });
        let mut config = Config {
            base_dir: path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
            ..Config::default()
        };
        // Each section on its own, so a type error in one does not hide the others.
        fn section<T: serde::de::DeserializeOwned + Default>(
            table: &toml::Table,
            name: &str,
            problems: &mut Vec<Problem>,
            problem: &dyn Fn(&str, String) -> Problem,
        ) -> T {
            let Some(value) = table.get(name) else {
                return T::default();
            };
            if let Ok(v) = value.clone().try_into() {
                return v;
            }
            // Find the culprits: each key tried alone against the section's type.
            for (key, v) in value.as_table().into_iter().flatten() {
                let alone = toml::Table::from_iter([(key.clone(), v.clone())]);
                if let Err(e) = toml::Value::Table(alone).try_into::<T>() {
                    problems.push(problem(&format!("{name}.{key}"), e.message().to_string()));
                }
            }
            T::default()
        }
        config.node = section(&table, "node", &mut problems, &problem);
        config.store = section(&table, "store", &mut problems, &problem);
        config.smtp = section(&table, "smtp", &mut problems, &problem);
        config.outbound = section(&table, "outbound", &mut problems, &problem);
        config.imap = section(&table, "imap", &mut problems, &problem);
        config.pop3 = section(&table, "pop3", &mut problems, &problem);
        config.managesieve = section(&table, "managesieve", &mut problems, &problem);
        config.limits = section(&table, "limits", &mut problems, &problem);
        config.tls = section(&table, "tls", &mut problems, &problem);
        config.mirror = section(&table, "mirror", &mut problems, &problem);
        config.admin = section(&table, "admin", &mut problems, &problem);
        config.autoconfig = section(&table, "autoconfig", &mut problems, &problem);
        config.filter = section(&table, "filter", &mut problems, &problem);
        config.log = section(&table, "log", &mut problems, &problem);
        for (key, message) in config.check() {
            problems.push(problem(&key, message));
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// Checks values that parse but make no sense; each problem is (key, message).
    pub fn check(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut bad = |key: &str, msg: String| out.push((key.to_string(), msg));
        let id = &self.node.id;
        if id.is_empty()
            || id.len() > 32
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            bad("node.id", format!("{id:?} is not 1-32 of a-z, 0-9, '-'"));
        }
        if twinmail_store::names::domain(&self.node.hostname).is_err() {
            bad(
                "node.hostname",
                format!("{:?} is not a host name", self.node.hostname),
            );
        }
        let mut seen = Vec::new();
        for name in &self.filter.order {
            match name.parse::<twinmail_filter::Stage>() {
                Ok(stage) if seen.contains(&stage) => {
                    bad("filter.order", format!("{name:?} is named twice"))
                }
                Ok(stage) => seen.push(stage),
                Err(e) => bad("filter.order", e),
            }
        }
        if self.store.read_connections == 0 {
            bad("store.read_connections", "must be at least 1".into());
        }
        if let Err(e) = self.outbound.settings(self) {
            // The message names its key ("outbound.relay_tls: ...").
            let text = format!("{e:#}");
            let (key, msg) = text.split_once(": ").unwrap_or(("outbound", &text));
            bad(key, msg.to_string());
        }
        if self.store.password_memory_kib < 8 {
            bad("store.password_memory_kib", "must be at least 8".into());
        }
        if self.store.password_passes == 0 {
            bad("store.password_passes", "must be at least 1".into());
        }
        match (&self.tls.cert, &self.tls.key) {
            (Some(_), None) => bad("tls.key", "tls.cert is set, so tls.key must be too".into()),
            (None, Some(_)) => bad("tls.cert", "tls.key is set, so tls.cert must be too".into()),
            _ => {}
        }
        for (key, path) in [("tls.cert", &self.tls.cert), ("tls.key", &self.tls.key)] {
            if let Some(p) = path {
                let p = self.resolve(p);
                if let Err(e) = std::fs::File::open(&p) {
                    bad(key, format!("cannot read {}: {e}", p.display()));
                }
            }
        }
        for (key, v) in [
            ("smtp.max_message_size", self.smtp.max_message_size),
            ("smtp.max_recipients", self.smtp.max_recipients),
            ("smtp.max_connections", self.smtp.max_connections),
            (
                "smtp.max_connections_per_ip",
                self.smtp.max_connections_per_ip,
            ),
        ] {
            if v == 0 {
                bad(key, "must be at least 1".into());
            }
        }
        if self.limits.ipv6_prefix > 128 {
            bad("limits.ipv6_prefix", "must be at most 128".into());
        }
        self.check_mirror(&mut bad);
        let hash = &self.admin.password_hash;
        if !hash.is_empty() && !hash.starts_with("$argon2") {
            bad(
                "admin.password_hash",
                "must be an argon2 PHC string (twinmail hash-password makes one)".into(),
            );
        }
        for (key, servers) in [
            ("autoconfig.imap", &self.autoconfig.imap),
            ("autoconfig.pop3", &self.autoconfig.pop3),
            ("autoconfig.smtp", &self.autoconfig.smtp),
        ] {
            for s in servers {
                if let Err(e) = twinmail_admin::MailServer::parse(s) {
                    bad(key, e);
                }
            }
        }
        if !matches!(self.log.format.as_str(), "pretty" | "json") {
            bad(
                "log.format",
                format!("{:?} is neither \"pretty\" nor \"json\"", self.log.format),
            );
        }
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&self.log.level) {
            bad("log.level", format!("{:?}: {e}", self.log.level));
        }
        out
    }

    fn check_mirror(&self, bad: &mut impl FnMut(&str, String)) {
        let m = &self.mirror;
        if m.twin_id.is_empty() {
            return;
        }
        if m.twin_id == self.node.id {
            bad("mirror.twin_id", "must differ from node.id".into());
        }
        if m.twin.is_none() {
            bad(
                "mirror.twin",
                "mirror.twin_id is set, so the twin's address must be too".into(),
            );
        }
        if m.listen.is_none() {
            bad(
                "mirror.listen",
                "mirror.twin_id is set, so a mirror listener must be too".into(),
            );
        }
        if !matches!(m.mode.as_str(), "async" | "sync") {
            bad(
                "mirror.mode",
                format!("{:?} is neither \"async\" nor \"sync\"", m.mode),
            );
        }
        if m.heartbeat_secs == 0 {
            bad("mirror.heartbeat_secs", "must be at least 1".into());
        }
        if let Err(e) = self.mirror_secret() {
            bad("mirror.secret_file", e);
        }
        if let Err(e) = self.twin_cert_pin() {
            bad("mirror.twin_cert_sha256", e);
        }
    }

    /// The pinned SPKI SHA-256 of the twin's certificate, if the config pins one: 64 hex
    /// digits, in either case, optionally in colon-separated pairs.
    pub fn twin_cert_pin(&self) -> Result<Option<[u8; 32]>, String> {
        let text = self.mirror.twin_cert_sha256.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let digits: String = text.chars().filter(|c| *c != ':').collect();
        let mut out = [0u8; 32];
        if digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "{text:?} is not a SHA-256 in hex (64 digits; `twinmail cert fingerprint` prints one)"
            ));
        }
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).unwrap_or_default();
        }
        Ok(Some(out))
    }

    /// The mirror's shared secret: TWINMAIL_MIRROR_SECRET, or the secret file.
    pub fn mirror_secret(&self) -> Result<twinmail_mirror::Secret, String> {
        let text = self.mirror_secret_text()?;
        let secret = twinmail_mirror::Secret::new(&text)?;
        Ok(match self.twin_cert_pin() {
            Ok(Some(pin)) => secret.pin_twin_cert(pin),
            _ => secret,
        })
    }

    /// The key of the sender rewriting (SRS) for mail aliases forward: the same on both
    /// twins, so a bounce to an address one made is taken by the other. With a twin it is
    /// derived from the mirror's secret (changing that secret voids the addresses in
    /// flight, which live 21 days); alone, it is DATA_DIR/srs.secret, made on first use.
    pub fn srs_key(&self) -> Result<Vec<u8>, String> {
        use sha2::Digest;
        if !self.mirror.twin_id.is_empty() {
            let text = self.mirror_secret_text()?;
            let mut h = sha2::Sha256::new();
            h.update(b"twinmail srs key\0");
            h.update(text.trim().as_bytes());
            return Ok(h.finalize().to_vec());
        }
        let path = self.data_dir().join("srs.secret");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return Ok(text.trim().as_bytes().to_vec());
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| format!("no random bytes: {e}"))?;
        let text: String = key.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(&path, &text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(text.into_bytes())
    }

    /// The mirror secret's text: TWINMAIL_MIRROR_SECRET, or the secret file.
    fn mirror_secret_text(&self) -> Result<String, String> {
        Ok(
            match (
                std::env::var("TWINMAIL_MIRROR_SECRET"),
                &self.mirror.secret_file,
            ) {
                (Ok(t), _) => t,
                (Err(_), Some(p)) => {
                    let p = self.resolve(p);
                    std::fs::read_to_string(&p)
                        .map_err(|e| format!("cannot read {}: {e}", p.display()))?
                }
                (Err(_), None) => {
                    return Err(
                        "set it, or TWINMAIL_MIRROR_SECRET, when mirror.twin_id is set".into(),
                    );
                }
            },
        )
    }

    /// The mirror's settings, when this server has a twin.
    pub fn mirror_settings(&self) -> Option<twinmail_mirror::MirrorSettings> {
        let m = &self.mirror;
        if m.twin_id.is_empty() {
            return None;
        }
        Some(twinmail_mirror::MirrorSettings {
            node: self.node.id.clone(),
            twin_id: m.twin_id.clone(),
            twin_addr: m.twin?,
            secret: self.mirror_secret().ok()?,
            heartbeat: Duration::from_secs(m.heartbeat_secs.max(1)),
            max_backoff: Duration::from_secs(m.max_backoff_secs.max(1)),
            write_wait: Duration::from_secs(m.write_wait_secs.max(1)),
            sync_timeout: (m.mode == "sync")
                .then(|| Duration::from_millis(m.sync_timeout_ms.max(1))),
            audit_every: (m.audit_interval_secs > 0)
                .then(|| Duration::from_secs(m.audit_interval_secs)),
            max_message_size: (self.smtp.max_message_size as u64)
                .max(self.imap.max_literal_size as u64)
                + 1024 * 1024,
        })
    }

    /// What autoconfiguration answers name: the configured servers, or this twin alone
    /// at its own first implicit-TLS port of each service.
    pub fn autoconfig_settings(&self) -> twinmail_admin::AutoconfigSettings {
        let host = &self.node.hostname;
        let servers = |listed: &[String], own: Option<&SocketAddr>| {
            let listed: Vec<_> = listed
                .iter()
                .filter_map(|s| twinmail_admin::MailServer::parse(s).ok())
                .collect();
            if listed.is_empty() {
                twinmail_admin::default_server(host, own.copied())
            } else {
                listed
            }
        };
        let a = &self.autoconfig;
        twinmail_admin::AutoconfigSettings {
            imap: servers(&a.imap, self.imap.tls_listen.first()),
            pop3: servers(&a.pop3, self.pop3.tls_listen.first()),
            smtp: servers(&a.smtp, self.smtp.submissions_listen.first()),
        }
    }

    /// A path from the config, made absolute against the config file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.resolve(&self.node.data_dir)
    }

    /// Where the running server leaves its latest status (JSON, every ten seconds).
    pub fn status_file(&self) -> PathBuf {
        self.data_dir().join("status.json")
    }

    /// The database file.
    pub fn database(&self) -> PathBuf {
        let p = &self.store.path;
        if p.is_absolute() {
            p.clone()
        } else {
            self.data_dir().join(p)
        }
    }

    /// Store options from this config.
    pub fn store_options(&self) -> twinmail_store::StoreOptions {
        let mut o = twinmail_store::StoreOptions::new(self.database(), self.node.id.clone());
        o.read_connections = self.store.read_connections;
        o.max_concurrent_hashes = match self.store.max_concurrent_hashes {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get().min(4)),
            n => n,
        };
        o.hash_cost = twinmail_store::HashCost {
            m_cost_kib: self.store.password_memory_kib,
            t_cost: self.store.password_passes,
            p_cost: 1,
        };
        o.tombstone_secs = i64::from(self.store.tombstone_days.max(1)) * 86_400;
        o
    }
}

impl LimitsConfig {
    /// The process-wide limits of the net crate.
    pub fn policy(&self) -> twinmail_net::Policy {
        twinmail_net::Policy {
            ipv6_prefix: self.ipv6_prefix.min(128) as u8,
            connections_per_minute: self.connections_per_minute,
            tls_handshakes_per_minute: self.tls_handshakes_per_minute,
            max_logins_in_flight: self.max_logins_in_flight,
            max_logins_in_flight_per_ip: self.max_logins_in_flight_per_ip,
            exempt_loopback: self.exempt_loopback,
        }
    }
}

impl SmtpConfig {
    /// The SMTP crate's settings from this section.
    pub fn settings(&self, hostname: &str, limits: &LimitsConfig) -> twinmail_smtp::SmtpSettings {
        let mut s = twinmail_smtp::SmtpSettings::new(hostname);
        s.max_bytes_in_flight = limits.max_message_bytes_in_flight;
        s.max_message_size = self.max_message_size;
        s.max_recipients = self.max_recipients;
        s.max_errors = self.max_errors.max(1);
        s.error_delay = Duration::from_millis(self.error_delay_ms);
        s.command_timeout = Duration::from_secs(self.command_timeout_secs.max(1));
        s.data_timeout = Duration::from_secs(self.data_timeout_secs.max(1));
        s.login_timeout = Duration::from_secs(self.login_timeout_secs.max(1));
        s.stress_login_timeout = Duration::from_secs(self.stress_login_timeout_secs.max(1));
        s.login_deadline = Duration::from_secs(self.login_deadline_secs.max(1));
        s.command_deadline = Duration::from_secs(self.command_deadline_secs.max(1));
        s.data_deadline = Duration::from_secs(self.data_deadline_secs.max(1));
        s.max_connections = self.max_connections;
        s.max_connections_per_ip = self.max_connections_per_ip;
        s.auth_failure_delay = Duration::from_millis(self.auth_failure_delay_ms);
        s.enforce_sync = self.enforce_sync;
        s.greet_delay = Duration::from_millis(self.greet_delay_ms);
        s.junk_command_limit = self.junk_command_limit;
        s.save_sent = self.save_sent;
        s
    }
}

impl OutboundConfig {
    /// The runner's settings from this section (the smarthost password read from its file).
    pub fn settings(&self, config: &Config) -> anyhow::Result<twinmail_outbound::Settings> {
        use anyhow::Context;
        let mut s = twinmail_outbound::Settings::new(config.node.hostname.clone());
        s.port = u16::try_from(self.mx_port).context("outbound.mx_port: not a port")?;
        if !self.retry_secs.is_empty() {
            s.retry = self
                .retry_secs
                .iter()
                .map(|&n| Duration::from_secs(n.max(1)))
                .collect();
        }
        s.max_age = Duration::from_secs(self.max_age_hours.max(1) * 3600);
        s.delay_notice = match self.delay_notice_hours {
            0 => Duration::from_secs(u64::from(u32::MAX)),
            h => Duration::from_secs(h * 3600),
        };
        s.lease = Duration::from_secs(self.lease_secs.max(1));
        s.max_connections = self.max_connections.max(1);
        s.per_destination = self.per_destination_connections.max(1);
        s.per_destination_rate = self.per_destination_rate;
        s.timeout = Duration::from_secs(self.timeout_secs.max(1));
        if let Some(relay) = &self.relay_host {
            let (host, port) = relay
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
                .context("outbound.relay_host: must be host:port")?;
            let tls = match self.relay_tls.as_str() {
                "starttls" => twinmail_outbound::TlsMode::Required,
                "tls" => twinmail_outbound::TlsMode::Implicit,
                "none" => twinmail_outbound::TlsMode::None,
                other => anyhow::bail!(
                    "outbound.relay_tls: {other:?} is not one of \"starttls\", \"tls\", \"none\""
                ),
            };
            let auth = match (&self.relay_user, &self.relay_password_file) {
                (Some(user), Some(file)) => {
                    let file = config.resolve(file);
                    let text = std::fs::read_to_string(&file).with_context(|| {
                        format!("outbound.relay_password_file: reading {}", file.display())
                    })?;
                    Some((user.clone(), text.lines().next().unwrap_or("").to_string()))
                }
                (None, None) => None,
                _ => anyhow::bail!(
                    "outbound.relay_user and outbound.relay_password_file go together"
                ),
            };
            s.relay = Some(twinmail_outbound::Relay {
                host: host.to_string(),
                port,
                tls,
                auth,
            });
        }
        Ok(s)
    }
}

impl ImapConfig {
    /// The IMAP crate's settings from this section.
    pub fn settings(&self, limits: &LimitsConfig) -> twinmail_imap::ImapSettings {
        twinmail_imap::ImapSettings {
            max_bytes_in_flight: limits.max_message_bytes_in_flight,
            max_literal_size: self.max_literal_size,
            max_compressed_sessions: self.max_compressed_sessions,
            max_notifications: self.max_notifications.max(1),
            login_timeout: Duration::from_secs(self.login_timeout_secs.max(1)),
            stress_login_timeout: Duration::from_secs(self.stress_login_timeout_secs.max(1)),
            login_deadline: Duration::from_secs(self.login_deadline_secs.max(1)),
            command_deadline: Duration::from_secs(self.command_deadline_secs.max(1)),
            literal_deadline: Duration::from_secs(self.literal_deadline_secs.max(1)),
            auth_failure_delay: Duration::from_millis(self.auth_failure_delay_ms),
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            max_sessions_per_user: self.max_sessions_per_user.max(1),
            plaintext_auth_on_loopback: self.plaintext_auth_on_loopback,
            ..Default::default()
        }
    }
}

impl Pop3Config {
    /// The POP3 crate's settings from this section.
    pub fn settings(&self) -> twinmail_pop3::Pop3Settings {
        twinmail_pop3::Pop3Settings {
            command_timeout: Duration::from_secs(self.command_timeout_secs.max(1)),
            login_timeout: Duration::from_secs(self.login_timeout_secs.max(1)),
            stress_login_timeout: Duration::from_secs(self.stress_login_timeout_secs.max(1)),
            login_deadline: Duration::from_secs(self.login_deadline_secs.max(1)),
            command_deadline: Duration::from_secs(self.command_deadline_secs.max(1)),
            max_errors: self.max_errors.max(1),
            auth_failure_delay: Duration::from_millis(self.auth_failure_delay_ms),
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            plaintext_auth_on_loopback: self.plaintext_auth_on_loopback,
            ..Default::default()
        }
    }
}

impl ManageSieveConfig {
    /// The ManageSieve crate's settings from this section.
    pub fn settings(&self) -> twinmail_managesieve::ManageSieveSettings {
        twinmail_managesieve::ManageSieveSettings {
            command_timeout: Duration::from_secs(self.command_timeout_secs.max(1)),
            login_timeout: Duration::from_secs(self.login_timeout_secs.max(1)),
            login_deadline: Duration::from_secs(self.login_deadline_secs.max(1)),
            command_deadline: Duration::from_secs(self.command_deadline_secs.max(1)),
            max_errors: self.max_errors.max(1),
            error_delay: Duration::from_millis(self.error_delay_ms),
            auth_failure_delay: Duration::from_millis(self.auth_failure_delay_ms),
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            plaintext_auth_on_loopback: self.plaintext_auth_on_loopback,
            ..Default::default()
        }
    }
}

/// The commented default config, generated from the section declarations.
pub fn example() -> String {
    let defaults = toml::Table::try_from(Config::default()).unwrap_or_default();
    let mut out = String::from(
        "# twinmail configuration. Every key is optional; shown here with its default.\n\
         # Generated by `twinmail config example`.\n",
    );
    for (name, doc, fields) in SECTIONS {
        out.push('\n');
        push_comment(&mut out, doc);
        out.push_str(&format!("[{name}]\n"));
        let values = defaults.get(*name).and_then(|v| v.as_table());
        for (field, doc) in fields.iter() {
            push_comment(&mut out, doc);
            match values.and_then(|t| t.get(*field)) {
                Some(v) => out.push_str(&format!("{field} = {v}\n")),
                None => out.push_str(&format!("# {field} =\n")),
            }
        }
    }
    out
}

fn push_comment(out: &mut String, doc: &str) {
    for line in doc.lines() {
        let line = line.strip_prefix(' ').unwrap_or(line);
        out.push_str(if line.is_empty() { "#" } else { "# " });
        out.push_str(line);
        out.push('\n');
    }
}
