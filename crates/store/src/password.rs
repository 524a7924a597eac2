//! Password hashing: argon2id, on the blocking pool, at most N at a time (each hash costs
//! its memory parameter, ~19 MiB by default: HOSTILE.md AUTH treats argon2 as a memory DoS).
//!
//! The working memory is kept and reused: one buffer per slot, allocated once. Letting
//! argon2 allocate and free 19 MiB per login made glibc raise its mmap threshold after the
//! first free and serve later buffers from per-thread heaps that never shrink back: 10,000
//! logins left ~700 MiB of fragmented heap behind (bench/imap-idle.sh).

use std::sync::{Arc, Mutex};

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::phc::{Output, ParamsString, PasswordHash, Salt},
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
    /// Working memory, one buffer per slot in use at most (see the module doc).
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    /// A hash of a random password, verified against when the account does not exist,
    /// so that a missing user costs the same time as a wrong password (HOSTILE.md ENUM).
    decoy: Arc<str>,
}

impl Hasher {
    pub async fn new(cost: HashCost, max_concurrent: usize) -> Result<Hasher, StoreError> {
        let mut h = Hasher {
            cost,
            slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
            memory: Arc::default(),
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
        let salt = Salt::generate();
        self.run(move |memory| {
            let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
            let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
            argon
                .hash_password_into_with_memory(
                    password.as_bytes(),
                    salt.as_ref(),
                    &mut out,
                    blocks(memory, params.block_count()),
                )
                .map_err(|e| StoreError::Hash(e.to_string()))?;
            let hash = PasswordHash {
                algorithm: argon2::ARGON2ID_IDENT,
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(&params)
                    .map_err(|e| StoreError::Hash(e.to_string()))?,
                salt: Some(salt),
                hash: Some(Output::new(&out).map_err(|e| StoreError::Hash(e.to_string()))?),
            };
            Ok(hash.to_string())
        })
        .await?
    }

    /// True when `password` matches `phc`; with `None` verifies against the decoy and
    /// returns false, taking the same time.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let known = phc.is_some();
        let phc = phc.unwrap_or(&self.decoy).to_owned();
        let password = password.to_owned();
        let ok = self
            .run(move |memory| verify_with(&password, &phc, memory))
            .await
            .unwrap_or(false);
        ok && known
    }

    /// Runs `work` on the blocking pool with a slot and a working-memory buffer big
    /// enough for any argon2 cost (grown when a stored hash asks for more).
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        let _slot = self.slots.acquire().await.map_err(|_| StoreError::Closed)?;
        let pool = self.memory.clone();
        let mut memory = pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        let (result, memory) = tokio::task::spawn_blocking(move || {
            let r = work(&mut memory);
            (r, memory)
        })
        .await
        .map_err(|e| StoreError::Hash(e.to_string()))?;
        pool.lock().unwrap_or_else(|e| e.into_inner()).push(memory);
        Ok(result)
    }
}

/// The first `n` blocks of the working memory, growing it if it is smaller.
fn blocks(memory: &mut Vec<Block>, n: usize) -> &mut [Block] {
    if memory.len() < n {
        memory.resize(n, Block::default());
    }
    &mut memory[..n]
}

/// Checks `password` against a PHC string with the given working memory; false for a
/// wrong password or a string that is not an argon2 hash.
fn verify_with(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(hash.algorithm.as_str()),
        Params::try_from(&hash),
    ) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut out = vec![0u8; expected.len()];
    let blocks = blocks(memory, params.block_count());
    let argon = Argon2::new(algorithm, version, params);
    if argon
        .hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, blocks)
        .is_err()
    {
        return false;
    }
    // Output's equality is constant-time.
    Output::new(&out).is_ok_and(|o| &o == expected)
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[tokio::test]
    async fn hashes_interoperate_with_the_argon2_crates_own() {
        let h = Hasher::new(HashCost::cheap(), 2).await.unwrap();
        let ours = h.hash("correct horse").await.unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{ours}");
        assert!(h.verify("correct horse", Some(&ours)).await);
        assert!(!h.verify("correct horsf", Some(&ours)).await);
        // Hashes written before the memory was pooled (argon2's own hasher, other costs)
        // still verify, and ours verify with argon2's own verifier.
        let params = Params::new(256, 2, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"old password")
            .unwrap()
            .to_string();
        assert!(h.verify("old password", Some(&theirs)).await);
        assert!(!h.verify("old passworD", Some(&theirs)).await);
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        // Unknown users and garbage are false, never a panic.
        assert!(!h.verify("correct horse", None).await);
        for junk in [
            "",
            "$argon2id$",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$",
            "plain",
        ] {
            assert!(!h.verify("x", Some(junk)).await, "{junk}");
        }
        // One buffer per slot used at most, sized for the largest cost seen.
        let pool = h.memory.lock().unwrap();
        assert!(pool.len() <= 2);
        assert!(pool.iter().any(|m| m.len() >= 256));
    }
}
