//! Home-twin routing. While the twins are linked, only an account's home twin assigns its
//! UIDs and MODSEQs; the other twin forwards the account's writes there. The store asks a
//! [`Forwarder`] (the mirror implements it; the store knows nothing of links) whether an
//! account's writes go elsewhere, and if so hands over a [`Request`] phrased in GUIDs and
//! gets back a [`Response`] once the home twin's change stream, applied here, contains the
//! result. The home twin carries requests out with [`Store::execute`].

use std::{future::Future, pin::Pin, sync::Arc};

use serde::{Deserialize, Serialize};

use crate::{
    Store, StoreError,
    ops::{
        mailbox::{CreateMailbox, DeleteMailbox, RenameMailbox, SetSubscribed},
        message::{AddMessage, Copied, CopyMessages, Expunge, FlagsStored, StoreFlags},
    },
    store::body,
    types::{BlobHash, FlagMode, Flags, Guid, Placed},
    uidset::UidSet,
};

/// A boxed future, for the object-safe [`Forwarder`].
pub type ForwardFuture = Pin<Box<dyn Future<Output = Result<Response, StoreError>> + Send>>;

/// Where an account's writes go while the twins are linked.
pub trait Forwarder: Send + Sync + 'static {
    /// True when `account` is homed on the twin (`home`: the admin's choice, if any) and
    /// the twin is reachable: its writes go there.
    fn forwards(&self, account: &Guid, home: Option<&str>) -> bool;
    /// Sync mode: resolves once the twin has durably stored this twin's log up to `seq`
    /// (or at once in async mode, or after the sync timeout).
    fn replicate(&self, seq: i64) -> Pin<Box<dyn Future<Output = ()> + Send>>;
    /// Sends a write to the home twin; resolves once its result has been applied here.
    /// `TwinDown` means the twin was given up on before the write was sent: the caller
    /// does it itself.
    fn forward(&self, request: Request, bytes: Option<Arc<Vec<u8>>>) -> ForwardFuture;
}

/// A write on its way to the account's home twin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Delivery or APPEND: the message (its bytes travel alongside) into these mailboxes.
    Add {
        /// The mailboxes.
        mailboxes: Vec<Guid>,
        /// The bytes' hash (checked on arrival).
        blob: BlobHash,
        /// Flags at arrival.
        flags: Flags,
        /// INTERNALDATE.
        internal_date: i64,
    },
    /// STORE.
    StoreFlags {
        /// The mailbox.
        mailbox: Guid,
        /// Which messages.
        uids: UidSet,
        /// Replace, add or remove.
        mode: FlagMode,
        /// The flags.
        flags: Flags,
        /// CONDSTORE UNCHANGEDSINCE.
        unchanged_since: Option<u64>,
    },
    /// EXPUNGE / UID EXPUNGE / POP3 DELE+QUIT.
    Expunge {
        /// The mailbox.
        mailbox: Guid,
        /// Restricted to these UIDs.
        uids: Option<UidSet>,
        /// Only `\Deleted` messages (IMAP) or exactly `uids` (POP3).
        only_deleted: bool,
    },
    /// COPY / MOVE.
    Copy {
        /// Source mailbox.
        from: Guid,
        /// Which messages.
        uids: UidSet,
        /// Target mailbox.
        to: Guid,
        /// MOVE.
        remove: bool,
    },
    /// CREATE.
    CreateMailbox {
        /// The account.
        account: Guid,
        /// The name.
        name: String,
    },
    /// RENAME.
    RenameMailbox {
        /// The account.
        account: Guid,
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// DELETE.
    DeleteMailbox {
        /// The account.
        account: Guid,
        /// The name.
        name: String,
    },
    /// SUBSCRIBE / UNSUBSCRIBE.
    Subscribe {
        /// The account.
        account: Guid,
        /// The name.
        name: String,
        /// The new state.
        subscribed: bool,
    },
}

/// What the home twin did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "r", rename_all = "snake_case")]
pub enum Response {
    /// Where an added message landed.
    Placed {
        /// One per mailbox.
        placed: Vec<Placed>,
    },
    /// Flags stored.
    Flags {
        /// The result.
        stored: FlagsStored,
    },
    /// UIDs expunged.
    Expunged {
        /// The UIDs.
        uids: Vec<u32>,
    },
    /// Messages copied.
    Copied {
        /// The result.
        copied: Copied,
    },
    /// A mailbox was created.
    Created {
        /// Its GUID.
        mailbox: Guid,
    },
    /// Done, nothing to report.
    Done,
    /// It failed; `kind` names the [`StoreError`] class.
    Failed {
        /// `not_found`, `already_exists`, `invalid`, `not_allowed`, `over_quota` or
        /// `unavailable`.
        kind: String,
        /// The message.
        message: String,
    },
}

impl Response {
    /// The home twin's error as a response.
    pub fn failed(e: &StoreError) -> Response {
        let (kind, message) = match e {
            StoreError::NotFound(m) => ("not_found", m.clone()),
            StoreError::AlreadyExists(m) => ("already_exists", m.clone()),
            StoreError::Invalid(m) => ("invalid", m.clone()),
            StoreError::NotAllowed(m) => ("not_allowed", m.clone()),
            StoreError::OverQuota(m) => ("over_quota", m.clone()),
            other => ("unavailable", other.to_string()),
        };
        Response::Failed {
            kind: kind.into(),
            message,
        }
    }

    /// A failure back into an error; anything else as it is.
    pub fn into_result(self) -> Result<Response, StoreError> {
        match self {
            Response::Failed { kind, message } => Err(match kind.as_str() {
                "not_found" => StoreError::NotFound(message),
                "already_exists" => StoreError::AlreadyExists(message),
                "invalid" => StoreError::Invalid(message),
                "not_allowed" => StoreError::NotAllowed(message),
                "over_quota" => StoreError::OverQuota(message),
                _ => StoreError::Unavailable(message),
            }),
            r => Ok(r),
        }
    }
}

fn unexpected(r: Response) -> StoreError {
    StoreError::Unavailable(format!("unexpected answer from the twin: {r:?}"))
}

impl Store {
    /// Installs the home-twin router (the mirror does, on a twin).
    pub fn set_forwarder(&self, f: Arc<dyn Forwarder>) {
        let _ = self.forwarder_cell().set(f);
    }

    /// In sync mode, waits until the twin holds everything committed here so far.
    pub(crate) async fn replicated(&self) -> Result<(), StoreError> {
        if let Some(f) = self.forwarder_cell().get() {
            let seq = self.last_seq().await?;
            f.replicate(seq).await;
        }
        Ok(())
    }

    /// The router, if an account (with the admin's choice of home, if any) has its writes
    /// go to the twin now. Without a twin: no query at all.
    fn route_to(&self, account: &Guid, home: Option<&str>) -> Option<Arc<dyn Forwarder>> {
        let f = self.forwarder_cell().get()?;
        f.forwards(account, home).then(|| f.clone())
    }

    /// The router, if this account's writes go to the twin now.
    pub(crate) async fn route(
        &self,
        account: &Guid,
    ) -> Result<Option<Arc<dyn Forwarder>>, StoreError> {
        if self.forwarder_cell().get().is_none() {
            return Ok(None);
        }
        let home: Option<String> = sqlx::query_scalar("SELECT home FROM accounts WHERE guid = $1")
            .bind(&account.0[..])
            .fetch_optional(self.db())
            .await?
            .flatten();
        Ok(self.route_to(account, home.as_deref()))
    }

    /// The router and the mailbox's GUID, if the mailbox's account is homed on the twin
    /// (one query: the account, its home and the mailbox together).
    pub(crate) async fn route_mailbox(
        &self,
        mailbox_id: i64,
    ) -> Result<Option<(Arc<dyn Forwarder>, Guid)>, StoreError> {
        if self.forwarder_cell().get().is_none() {
            return Ok(None);
        }
        let row: Option<(Vec<u8>, Option<String>, Vec<u8>)> = sqlx::query_as(
            "SELECT a.guid, a.home, m.guid FROM mailboxes m JOIN accounts a ON a.id = m.account_id WHERE m.id = $1",
        )
        .bind(mailbox_id)
        .fetch_optional(self.db())
        .await?;
        let Some((account, home, mailbox)) = row else {
            return Ok(None);
        };
        let Some(f) = self.route_to(&Guid::from_slice(&account)?, home.as_deref()) else {
            return Ok(None);
        };
        Ok(Some((f, Guid::from_slice(&mailbox)?)))
    }

    /// The router and the account's GUID, if the account is homed on the twin.
    pub(crate) async fn route_account(
        &self,
        account_id: i64,
    ) -> Result<Option<(Arc<dyn Forwarder>, Guid)>, StoreError> {
        if self.forwarder_cell().get().is_none() {
            return Ok(None);
        }
        let row: Option<(Vec<u8>, Option<String>)> =
            sqlx::query_as("SELECT guid, home FROM accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(self.db())
                .await?;
        let Some((account, home)) = row else {
            return Ok(None);
        };
        let account = Guid::from_slice(&account)?;
        Ok(self
            .route_to(&account, home.as_deref())
            .map(|f| (f, account)))
    }

    async fn mailbox_id(&self, guid: &Guid) -> Result<i64, StoreError> {
        Ok(self
            .mailbox_by_guid(guid)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("mailbox {guid}")))?
            .id)
    }

    async fn account_id(&self, guid: &Guid) -> Result<i64, StoreError> {
        Ok(crate::rows::account_by_guid(self.db(), guid)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account {guid}")))?
            .id)
    }

    /// Carries out a write the twin forwarded (this twin is the account's home).
    pub async fn execute(&self, request: Request, bytes: Option<Vec<u8>>) -> Response {
        match self.execute_inner(request, bytes).await {
            Ok(r) => r,
            Err(e) => Response::failed(&e),
        }
    }

    async fn execute_inner(
        &self,
        request: Request,
        bytes: Option<Vec<u8>>,
    ) -> Result<Response, StoreError> {
        Ok(match request {
            Request::Add {
                mailboxes,
                blob,
                flags,
                internal_date,
            } => {
                let bytes = bytes.ok_or_else(|| StoreError::Invalid("no message bytes".into()))?;
                let body = body(bytes);
                if body.hash != blob {
                    return Err(StoreError::Invalid("message bytes do not match".into()));
                }
                let mut ids = Vec::with_capacity(mailboxes.len());
                for m in &mailboxes {
                    ids.push(self.mailbox_id(m).await?);
                }
                let placed = self
                    .submit(AddMessage {
                        mailboxes: ids,
                        body,
                        flags,
                        internal_date,
                    })
                    .await?;
                Response::Placed { placed }
            }
            Request::StoreFlags {
                mailbox,
                uids,
                mode,
                flags,
                unchanged_since,
            } => {
                let mailbox_id = self.mailbox_id(&mailbox).await?;
                let stored = self
                    .submit(StoreFlags {
                        mailbox_id,
                        uids,
                        mode,
                        flags,
                        unchanged_since,
                    })
                    .await?;
                Response::Flags { stored }
            }
            Request::Expunge {
                mailbox,
                uids,
                only_deleted,
            } => {
                let mailbox_id = self.mailbox_id(&mailbox).await?;
                let uids = self
                    .submit(Expunge {
                        mailbox_id,
                        uids,
                        only_deleted,
                    })
                    .await?;
                Response::Expunged { uids }
            }
            Request::Copy {
                from,
                uids,
                to,
                remove,
            } => {
                let (from, to) = (self.mailbox_id(&from).await?, self.mailbox_id(&to).await?);
                let copied = self
                    .submit(CopyMessages {
                        from,
                        uids,
                        to,
                        remove,
                    })
                    .await?;
                Response::Copied { copied }
            }
            Request::CreateMailbox { account, name } => {
                let account_id = self.account_id(&account).await?;
                let m = self.submit(CreateMailbox { account_id, name }).await?;
                Response::Created { mailbox: m.guid }
            }
            Request::RenameMailbox { account, from, to } => {
                let account_id = self.account_id(&account).await?;
                self.submit(RenameMailbox {
                    account_id,
                    from,
                    to,
                })
                .await?;
                Response::Done
            }
            Request::DeleteMailbox { account, name } => {
                let account_id = self.account_id(&account).await?;
                self.submit(DeleteMailbox { account_id, name }).await?;
                Response::Done
            }
            Request::Subscribe {
                account,
                name,
                subscribed,
            } => {
                let account_id = self.account_id(&account).await?;
                self.submit(SetSubscribed {
                    account_id,
                    name,
                    subscribed,
                })
                .await?;
                Response::Done
            }
        })
    }

    /// The newest sequence number in this twin's log: once the twin has applied up to
    /// here, it holds the result of everything this twin committed so far.
    pub async fn last_seq(&self) -> Result<i64, StoreError> {
        crate::mirror::last_seq(self.db()).await
    }
}

/// Forwards a write: `Some(answer)`, or `None` when this twin must do the write itself
/// because the twin was given up on before the write was sent (split mode).
pub(crate) async fn forwarded(
    f: Arc<dyn Forwarder>,
    request: Request,
    bytes: Option<Arc<Vec<u8>>>,
) -> Result<Option<Response>, StoreError> {
    match f.forward(request, bytes).await {
        Err(StoreError::TwinDown) => Ok(None),
        Err(e) => Err(e),
        Ok(r) => r.into_result().map(Some),
    }
}

/// Reads a forwarded result of the expected shape.
pub(crate) fn expect_placed(r: Response) -> Result<Vec<Placed>, StoreError> {
    match r {
        Response::Placed { placed } => Ok(placed),
        r => Err(unexpected(r)),
    }
}

pub(crate) fn expect_flags(r: Response) -> Result<FlagsStored, StoreError> {
    match r {
        Response::Flags { stored } => Ok(stored),
        r => Err(unexpected(r)),
    }
}

pub(crate) fn expect_uids(r: Response) -> Result<Vec<u32>, StoreError> {
    match r {
        Response::Expunged { uids } => Ok(uids),
        r => Err(unexpected(r)),
    }
}

pub(crate) fn expect_copied(r: Response) -> Result<Copied, StoreError> {
    match r {
        Response::Copied { copied } => Ok(copied),
        r => Err(unexpected(r)),
    }
}

pub(crate) fn expect_created(r: Response) -> Result<Guid, StoreError> {
    match r {
        Response::Created { mailbox } => Ok(mailbox),
        r => Err(unexpected(r)),
    }
}

pub(crate) fn expect_done(r: Response) -> Result<(), StoreError> {
    match r {
        Response::Done => Ok(()),
        r => Err(unexpected(r)),
    }
}
