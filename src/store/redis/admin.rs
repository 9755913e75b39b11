//! The Redis side of the admin API: the per-phone "not before" time
//! (`otpgate:nb:<phone>`, kept for `session.ttl`: no older session can
//! outlive it) is a revocation (`redis/revocations.rs`); here are the
//! prefix blocks (`otpgate:blocks`, a hash prefix ->
//! `until_ms|source`): a send checks every leading part of its number in
//! one HMGET; ended blocks leave the hash when it is next listed. On a
//! Cluster both live in the epoch's hash slot, like revocations (see
//! `keys.rs`): the MGET stays one command, and losing them means losing
//! the epoch too, which is detected.

use std::collections::HashMap;

use super::RedisStore;
use crate::store::api::{Block, StoreError};

impl RedisStore {
    pub(super) async fn add_block(&self, b: &Block) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(self.keys.blocks())
            .arg(&b.prefix)
            .arg(format!("{}|{}", b.until_ms, b.source));
        self.query::<u64>("put_block", &cmd).await.map(|_| ())
    }

    pub(super) async fn delete_block(&self, prefix: &str) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(self.keys.blocks()).arg(prefix);
        Ok(self.query::<u64>("remove_block", &cmd).await? > 0)
    }

    pub(super) async fn block_end(
        &self,
        prefixes: &[String],
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.keys.blocks()).arg(prefixes);
        let found: Vec<Option<String>> = self.query("blocked_until", &cmd).await?;
        Ok(found
            .iter()
            .flatten()
            .filter_map(|v| v.split_once('|')?.0.parse::<u64>().ok())
            .filter(|u| *u > now_ms)
            .max())
    }

    pub(super) async fn list_blocks(&self, now_ms: u64) -> Result<Vec<Block>, StoreError> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(self.keys.blocks());
        let all: HashMap<String, String> = self.query("blocks", &cmd).await?;
        let mut live = Vec::new();
        let mut ended = Vec::new();
        for (prefix, value) in all {
            let parsed = value
                .split_once('|')
                .and_then(|(u, s)| Some((u.parse::<u64>().ok()?, s)));
            match parsed {
                Some((until_ms, source)) if until_ms > now_ms => live.push(Block {
                    prefix,
                    until_ms,
                    source: source.to_string(),
                }),
                _ => ended.push(prefix),
            }
        }
        if !ended.is_empty() {
            // Ended blocks leave the list lazily; their deny entries expire
            // by TTL.
            let mut cmd = redis::cmd("HDEL");
            cmd.arg(self.keys.blocks()).arg(&ended);
            let _ = self.query::<u64>("blocks", &cmd).await;
        }
        live.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        Ok(live)
    }
}
