//! The store's one error type. Each variant maps to one class of outcome for a protocol:
//! the client's fault (a NO with a reason), or the server's (a NO plus a loud log).

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named thing does not exist (account, domain, mailbox, message).
    #[error("{0} not found")]
    NotFound(String),
    /// The named thing exists already.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A name or argument the store refuses (bad mailbox name, bad address, ...).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The operation is not allowed in the current state (e.g. deleting INBOX).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// A twin's change arrived ahead of one still missing from the same origin.
    #[error("change {got} from {origin} arrived before {expected}")]
    Gap {
        /// The origin node.
        origin: String,
        /// The sequence number the store expected next.
        expected: i64,
        /// The sequence number that arrived.
        got: i64,
    },
    /// Stored data that cannot be read back as written: a bug or a damaged database.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The database failed (I/O, disk full, constraint).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The account's storage limit would be exceeded (IMAP `[OVERQUOTA]`, SMTP 552 5.2.2).
    #[error("over quota: {0}")]
    OverQuota(String),
    /// A migration failed at start-up.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Password hashing failed.
    #[error("password hashing: {0}")]
    Hash(String),
    /// The transaction this operation was part of failed to commit (disk full, I/O).
    #[error("commit failed: {0}")]
    Commit(std::sync::Arc<sqlx::Error>),
    /// The store is shutting down.
    #[error("store closed")]
    Closed,
    /// A write named messages as a client saw them (UID with GUID) and a UID holds another
    /// message here: the twins differ, and the write was refused rather than misapplied.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The account's home twin did not carry out a forwarded write (link lost, timeout):
    /// a temporary failure the client may retry.
    #[error("the twin did not answer: {0}")]
    Unavailable(String),
    /// The account's home twin is taken for down (the link has been gone longer than
    /// the grace period): the write was not sent, this twin serves the account itself.
    #[error("the home twin is down")]
    TwinDown,
}

impl StoreError {
    /// True when the fault is the client's (a NO), false when it is the server's.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            StoreError::NotFound(_)
                | StoreError::AlreadyExists(_)
                | StoreError::Invalid(_)
                | StoreError::NotAllowed(_)
                | StoreError::OverQuota(_)
                | StoreError::Conflict(_)
        )
    }

    /// True when the database reported that the disk is full (SQLITE_FULL), which SMTP
    /// answers with 452 rather than a hard failure.
    pub fn is_disk_full(&self) -> bool {
        let e = match self {
            StoreError::Database(e) => e,
            StoreError::Commit(e) => &**e,
            _ => return false,
        };
        match e {
            sqlx::Error::Database(e) => {
                e.code().is_some_and(|c| c == "13") || e.message().contains("full")
            }
            _ => false,
        }
    }
}
