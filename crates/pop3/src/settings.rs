//! What a POP3 listener is and the limits it enforces.

use std::time::Duration;

/// The two POP3 services.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Port 110: plaintext until STLS.
    Pop3,
    /// Port 995: TLS from the first byte.
    Pop3s,
}

impl Kind {
    /// Name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pop3 => "pop3",
            Kind::Pop3s => "pop3s",
        }
    }
}

/// Limits shared by the POP3 listeners of a node.
#[derive(Clone, Debug)]
pub struct Pop3Settings {
    /// How long to wait for a command once logged in (RFC 1939 asks for at least 10
    /// minutes).
    pub command_timeout: Duration,
    /// How long to wait for a command before login.
    pub login_timeout: Duration,
    /// The wait for a command before login while three quarters of `max_connections`
    /// are in use (Postfix's stress mode): idle clients then make room sooner.
    pub stress_login_timeout: Duration,
    /// Longest a session may stay unauthenticated, however busy it keeps.
    pub login_deadline: Duration,
    /// Longest one command line may take to arrive once its first byte has.
    pub command_deadline: Duration,
    /// Errors a session may make before it is disconnected.
    pub max_errors: u32,
    /// Added delay per error beyond the second.
    pub error_delay: Duration,
    /// Delay per recent failed login from the same IP (grows, capped at 10×).
    pub auth_failure_delay: Duration,
    /// Failed logins after which a session is disconnected.
    pub max_auth_failures: u32,
    /// Most simultaneous sessions per listener.
    pub max_connections: usize,
    /// Most simultaneous sessions from one IP address.
    pub max_connections_per_ip: usize,
    /// Allow USER/PASS and AUTH without TLS from loopback addresses (local tools only;
    /// never from the network).
    pub plaintext_auth_on_loopback: bool,
}

impl Default for Pop3Settings {
    fn default() -> Self {
        Pop3Settings {
            command_timeout: Duration::from_secs(600),
            login_timeout: Duration::from_secs(60),
            stress_login_timeout: Duration::from_secs(10),
            login_deadline: Duration::from_secs(120),
            command_deadline: Duration::from_secs(60),
            max_errors: 10,
            error_delay: Duration::from_secs(1),
            auth_failure_delay: Duration::from_secs(1),
            max_auth_failures: 3,
            max_connections: 1000,
            max_connections_per_ip: 20,
            plaintext_auth_on_loopback: false,
        }
    }
}
