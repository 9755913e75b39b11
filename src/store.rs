//! Shared state behind one trait: challenges, rate counters and session
//! revocations. Every operation that decides something is atomic in the
//! store itself (increment-before-check), so parallel requests can never
//! exceed a limit or reuse a code. `memory` is the single-instance store; a
//! Redis store implements the same trait with Lua scripts.
//!
//! Logouts and blocks exist only as entries in the store, so losing the
//! store's data (Redis restarted empty, `FLUSHALL`, a failover to a replica
//! that never had the key, an otpgate restart with the memory store) would
//! silently bring logged-out cookies back. The store therefore has an
//! *epoch*: a random number written once (`SET NX`) into an empty store.
//! Every session cookie carries the epoch it was issued under, and a cookie
//! from another epoch is refused — data loss fails closed (see
//! [`epoch::EpochWatch`]).

mod api;
mod compact;
mod epoch;
mod memory;
mod records;
mod redis;
pub mod target;

pub use self::api::{Attempt, Block, Challenge, Count, Resend, SessionCheck, Store, StoreError};
pub use self::redis::{scripts as redis_scripts, RedisStore};
pub use crate::secret::redact_url;
pub use epoch::{EpochChange, EpochWatch};
pub use memory::{spawn_sweeper, MemoryStore};
pub use target::RedisTarget;
