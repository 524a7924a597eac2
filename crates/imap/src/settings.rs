//! What an IMAP listener is and the limits it enforces.

use std::time::Duration;

/// The two IMAP services.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Port 143: plaintext until STARTTLS.
    Imap,
    /// Port 993: TLS from the first byte.
    Imaps,
}

impl Kind {
    /// Name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Imap => "imap",
            Kind::Imaps => "imaps",
        }
    }
}

/// Limits shared by the IMAP listeners of a node.
#[derive(Clone, Debug)]
pub struct ImapSettings {
    /// Idle time allowed before login.
    pub login_timeout: Duration,
    /// Idle time allowed before login while three quarters of `max_connections` are in
    /// use (Postfix's stress mode): idle clients then make room sooner.
    pub stress_login_timeout: Duration,
    /// Longest a session may stay unauthenticated, however busy it keeps.
    pub login_deadline: Duration,
    /// Longest one command without literals (or an AUTHENTICATE response, or DONE) may
    /// take to arrive once its first byte has.
    pub command_deadline: Duration,
    /// Longest one command with literals (an APPEND) may take to arrive once its first
    /// byte has.
    pub literal_deadline: Duration,
    /// Idle time allowed after login (RFC 3501 §5.4: at least 30 minutes), IDLE included.
    pub command_timeout: Duration,
    /// Largest literal (APPEND message) accepted, in bytes.
    pub max_literal_size: u32,
    /// Most message bytes all sessions of the process together may hold in memory
    /// (`twinmail_net::HeldBytes`, shared with SMTP): a literal that would go past it
    /// is refused for now with NO [LIMIT] (a synchronising one before it is sent, a
    /// non-synchronising one once read to its end and dropped).
    pub max_bytes_in_flight: usize,
    /// Most sessions that may use COMPRESS=DEFLATE at once (each holds about 300 KiB of
    /// deflate state); past it COMPRESS is answered NO [LIMIT] and the session goes on
    /// uncompressed.
    pub max_compressed_sessions: usize,
    /// Most notifications (RFC 5465 NOTIFY) a session may hold untold: notes for other
    /// mailboxes, and changes of the selected mailbox NOTIFY holds back. Past it the
    /// session's NOTIFY is turned off with `* OK [NOTIFICATIONOVERFLOW]` (RFC 5465 §5.8).
    pub max_notifications: usize,
    /// Errors (BAD) a session may make before it is disconnected.
    pub max_errors: u32,
    /// Delay per recent failed login from the same IP (grows, capped at 10×).
    pub auth_failure_delay: Duration,
    /// Failed logins after which a session is disconnected.
    pub max_auth_failures: u32,
    /// Most simultaneous sessions per listener.
    pub max_connections: usize,
    /// Most simultaneous sessions from one IP address.
    pub max_connections_per_ip: usize,
    /// Most simultaneous logged-in sessions of one user (clients open several each).
    pub max_sessions_per_user: usize,
    /// Allow LOGIN and AUTHENTICATE without TLS from loopback clients (local tools only).
    pub plaintext_auth_on_loopback: bool,
}

impl Default for ImapSettings {
    fn default() -> Self {
        ImapSettings {
            login_timeout: Duration::from_secs(60),
            stress_login_timeout: Duration::from_secs(10),
            login_deadline: Duration::from_secs(120),
            command_deadline: Duration::from_secs(60),
            literal_deadline: Duration::from_secs(30 * 60),
            command_timeout: Duration::from_secs(30 * 60),
            max_literal_size: 50 * 1024 * 1024,
            max_compressed_sessions: 1000,
            max_bytes_in_flight: 512 * 1024 * 1024,
            max_notifications: 1000,
            max_errors: 20,
            auth_failure_delay: Duration::from_secs(1),
            max_auth_failures: 3,
            max_connections: 5000,
            max_connections_per_ip: 50,
            max_sessions_per_user: 50,
            plaintext_auth_on_loopback: false,
        }
    }
}
