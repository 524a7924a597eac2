//! Password hashing: argon2id, on the blocking pool, at most N at a time (each hash costs
//! its memory parameter, ~19 MiB by default: HOSTILE.md AUTH treats argon2 as a memory DoS).

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher, PasswordVerifier},
};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::StoreError;

/// argon2id cost parameters for new hashes (verification reads them from the hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashCost {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Parallelism.
    pub p_cost: u32,
}

impl Default for HashCost {
    /// OWASP's argon2id recommendation, argon2's own default: 19 MiB, 2 passes.
    fn default() -> Self {
        HashCost {
            m_cost_kib: Params::DEFAULT_M_COST,
            t_cost: Params::DEFAULT_T_COST,
            p_cost: Params::DEFAULT_P_COST,
        }
    }
}

impl HashCost {
    /// Cheap parameters for tests only: production configs keep the default.
    pub fn cheap() -> Self {
        HashCost {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        }
    }

    fn params(&self) -> Result<Params, StoreError> {
        Params::new(self.m_cost_kib, self.t_cost, self.p_cost, None)
            .map_err(|e| StoreError::Hash(e.to_string()))
    }
}

/// Hashes and verifies passwords with a cap on concurrent work.
#[derive(Clone)]
pub(crate) struct Hasher {
    /// Parameters of new hashes.
    cost: HashCost,
    /// Caps concurrent hashes.
    slots: Arc<Semaphore>,
    /// A hash of a random password, verified against when the account does not exist,
    /// so that a missing user costs the same time as a wrong password (HOSTILE.md ENUM).
    decoy: Arc<str>,
}

impl Hasher {
    pub async fn new(cost: HashCost, max_concurrent: usize) -> Result<Hasher, StoreError> {
        let mut h = Hasher {
            cost,
            slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
            decoy: Arc::from(""),
        };
        let random = crate::Guid::random().to_hex();
        h.decoy = Arc::from(h.hash(&random).await?);
        Ok(h)
    }

    /// A fresh argon2id PHC string for `password`.
    pub async fn hash(&self, password: &str) -> Result<String, StoreError> {
        let params = self.cost.params()?;
        let password = password.to_owned();
        let _slot = self.slots.acquire().await.map_err(|_| StoreError::Closed)?;
        tokio::task::spawn_blocking(move || {
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| StoreError::Hash(e.to_string()))
        })
        .await
        .map_err(|e| StoreError::Hash(e.to_string()))?
    }

    /// True when `password` matches `phc`; with `None` verifies against the decoy and
    /// returns false, taking the same time.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let known = phc.is_some();
        let phc = phc.unwrap_or(&self.decoy).to_owned();
        let password = password.to_owned();
        let Ok(_slot) = self.slots.acquire().await else {
            return false;
        };
        let ok = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(password.as_bytes(), phc.as_str())
                .is_ok()
        })
        .await
        .unwrap_or(false);
        ok && known
    }
}
