//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use std::path::Path;

use twinmail_store::{HashCost, Store, StoreOptions};

/// Opens (creating) a store in `dir` owned by `node`, with cheap argon2 parameters.
pub async fn open(dir: &Path, node: &str) -> Store {
    Store::open(options(dir, node)).await.expect("open store")
}

/// Test options for a store in `dir` owned by `node`.
pub fn options(dir: &Path, node: &str) -> StoreOptions {
    StoreOptions {
        hash_cost: HashCost::cheap(),
        ..StoreOptions::new(dir.join("store.db"), node)
    }
}

/// A small deterministic generator (Knuth's MMIX LCG): seeds make runs repeatable.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        let mut l = Lcg(seed ^ 0x9e37_79b9_7f4a_7c15);
        l.next();
        l
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Shuffles `v` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// A small, distinct RFC 5322 message.
pub fn message(tag: &str) -> Vec<u8> {
    format!(
        "From: sender@example.org\r\nTo: someone@example.com\r\nSubject: {tag}\r\n\
         Message-ID: <{tag}@example.org>\r\n\r\nBody of {tag}.\r\n"
    )
    .into_bytes()
}
