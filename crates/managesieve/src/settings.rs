//! The limits a ManageSieve listener enforces.

use std::time::Duration;

/// Limits shared by the ManageSieve listeners of a node.
#[derive(Clone, Debug)]
pub struct ManageSieveSettings {
    /// How long to wait for a command once logged in (an editor left open idles).
    pub command_timeout: Duration,
    /// How long to wait for a command before login.
    pub login_timeout: Duration,
    /// Longest a session may stay unauthenticated, however busy it keeps.
    pub login_deadline: Duration,
    /// Longest one command (its lines and literals) may take to arrive once its first
    /// byte has.
    pub command_deadline: Duration,
    /// Errors (NO answers to bad commands) a session may make before it is sent BYE.
    pub max_errors: u32,
    /// Added delay per error beyond the second.
    pub error_delay: Duration,
    /// Delay per recent failed login from the same IP (grows, capped at 10x).
    pub auth_failure_delay: Duration,
    /// Failed logins after which a session is sent BYE.
    pub max_auth_failures: u32,
    /// Most simultaneous sessions per listener.
    pub max_connections: usize,
    /// Most simultaneous sessions from one IP address.
    pub max_connections_per_ip: usize,
    /// Allow AUTHENTICATE without TLS from loopback addresses (local tools only; never
    /// from the network).
    pub plaintext_auth_on_loopback: bool,
}

impl Default for ManageSieveSettings {
    fn default() -> Self {
        ManageSieveSettings {
            command_timeout: Duration::from_secs(600),
            login_timeout: Duration::from_secs(60),
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
