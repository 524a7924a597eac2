//! What an SMTP listener is for and the limits it enforces.

use std::time::Duration;

/// The three SMTP services.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Inbound mail from the internet (port 25): local recipients only, no AUTH.
    Mx,
    /// Submission with STARTTLS (port 587): AUTH required, after TLS.
    Submission,
    /// Submission over implicit TLS (port 465).
    Submissions,
}

impl Kind {
    /// True for the two submission services, where clients must authenticate.
    pub fn is_submission(self) -> bool {
        !matches!(self, Kind::Mx)
    }

    /// Name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mx => "smtp",
            Kind::Submission => "submission",
            Kind::Submissions => "submissions",
        }
    }
}

/// Limits and names shared by every SMTP listener of a node.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    /// Our host name: greeting, EHLO and Received headers.
    pub hostname: String,
    /// Largest message accepted, in bytes (advertised as SIZE).
    pub max_message_size: usize,
    /// Most recipients per message.
    pub max_recipients: usize,
    /// Errors a session may make before it is disconnected with 421.
    pub max_errors: u32,
    /// Added delay per error beyond the second (a junk flood slows itself down).
    pub error_delay: Duration,
    /// How long to wait for a command once logged in (submission).
    pub command_timeout: Duration,
    /// How long to wait for a command before login. MX sessions never log in, so for
    /// them this is the wait for every command.
    pub login_timeout: Duration,
    /// The wait for a command before login while three quarters of `max_connections`
    /// are in use (Postfix's stress mode): idle clients then make room sooner.
    pub stress_login_timeout: Duration,
    /// Longest a submission session may stay unauthenticated, however busy it keeps.
    pub login_deadline: Duration,
    /// Longest one command line (or AUTH response) may take to arrive, from its first
    /// byte: a client that sends a byte every few seconds gets no further.
    pub command_deadline: Duration,
    /// How long to wait for each piece of message data.
    pub data_timeout: Duration,
    /// Longest one message's DATA, or one BDAT chunk, may take to arrive.
    pub data_deadline: Duration,
    /// Most simultaneous sessions per listener.
    pub max_connections: usize,
    /// Most simultaneous sessions from one IP address.
    pub max_connections_per_ip: usize,
    /// Delay per recent failed login from the same IP (grows with each, capped at 10×).
    pub auth_failure_delay: Duration,
    /// Failed logins after which a session is disconnected.
    pub max_auth_failures: u32,
    /// Refuse clients that do not wait for our replies where they must: commands sent
    /// before the greeting (dropped with 554), and commands sent ahead of the reply to a
    /// command that ends a pipelined group, or to any command when PIPELINING was not
    /// negotiated (RFC 2920 §3.1; dropped with 421). Exim calls this `smtp_enforce_sync`.
    pub enforce_sync: bool,
    /// How long to wait for a client to talk first before sending the greeting; a client
    /// that does is an early talker (a bot that does not wait). Zero still catches what
    /// arrived with the connection; a few seconds catch more and delay every session.
    pub greet_delay: Duration,
    /// NOOP, RSET, VRFY, EXPN and HELP commands a session may send before each further
    /// one counts as an error (Postfix's `smtpd_junk_command_limit`); the count starts
    /// again after each message accepted.
    pub junk_command_limit: u32,
    /// Most message bytes (DATA and BDAT) all sessions of the process may hold in memory
    /// at once; a message that would go past it is answered 451 4.3.1 (try later).
    pub max_bytes_in_flight: usize,
    /// Whether a logged-in user on submission may send to other domains (the outbound
    /// queue takes the mail); off, such recipients are refused with 554 5.7.1.
    pub outbound: bool,
    /// Whether mail a logged-in user sends through submission is also filed (`\Seen`) in
    /// the user's Sent folder, so that the client need not upload it a second time. Each
    /// user can turn it on or off for themselves with the server METADATA entry
    /// [`SAVE_SENT_ENTRY`] ("yes" / "no"), which wins over this default.
    pub save_sent: bool,
}

/// The server METADATA entry (RFC 5464, set over IMAP) by which a user asks for, or
/// declines, a Sent copy of what they submit: value "yes" or "no".
pub const SAVE_SENT_ENTRY: &str = "/private/vendor/vendor.twinmail/save-sent";

impl SmtpSettings {
    /// Production defaults for `hostname`.
    pub fn new(hostname: impl Into<String>) -> SmtpSettings {
        SmtpSettings {
            hostname: hostname.into(),
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 100,
            max_errors: 10,
            error_delay: Duration::from_secs(1),
            command_timeout: Duration::from_secs(300),
            login_timeout: Duration::from_secs(60),
            stress_login_timeout: Duration::from_secs(10),
            login_deadline: Duration::from_secs(120),
            command_deadline: Duration::from_secs(60),
            data_timeout: Duration::from_secs(600),
            data_deadline: Duration::from_secs(30 * 60),
            max_connections: 1000,
            max_connections_per_ip: 20,
            auth_failure_delay: Duration::from_secs(1),
            max_auth_failures: 3,
            enforce_sync: true,
            greet_delay: Duration::ZERO,
            junk_command_limit: 100,
            max_bytes_in_flight: 512 * 1024 * 1024,
            outbound: false,
            save_sent: false,
        }
    }
}
