//! Shared state behind one trait: challenges, rate counters and session
//! revocations. Every operation that decides something is atomic in the
//! store itself (increment-before-check), so parallel requests can never
//! exceed a limit or reuse a code. `memory` is the single-instance store; a
//! Redis store implements the same trait with Lua scripts.

mod api;
mod memory;
mod redis;

pub use self::api::{Attempt, Challenge, Count, Resend, Store, StoreError};
pub use self::redis::{redact as redact_url, RedisStore};
pub use memory::{spawn_sweeper, MemoryStore};
