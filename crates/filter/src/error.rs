//! What can go wrong talking to a filter daemon. These reach the log only: the client is
//! told a generic 4xx (or nothing, when the filter fails open).

use thiserror::Error;

/// A filter daemon could not give an answer.
#[derive(Debug, Error)]
pub enum FilterError {
    /// Connecting, writing or reading failed.
    #[error("{daemon}: {source}")]
    Io {
        /// Which daemon (`clamd`, `rspamd`).
        daemon: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The DNS resolver cannot be set up.
    #[error("DNS resolver: {0}")]
    Resolver(String),
    /// No answer within the configured time.
    #[error("{0}: no answer in time")]
    Timeout(&'static str),
    /// An answer we cannot read.
    #[error("{daemon}: unexpected answer: {detail}")]
    Protocol {
        /// Which daemon.
        daemon: &'static str,
        /// What was wrong with it.
        detail: String,
    },
}
