//! The session check of every protected request, and the store epoch that
//! makes it fail closed when the store loses its data (see
//! `store/epoch.rs`): a cookie is good only if it opens, is not revoked
//! (by its logout, or by the admin API for its phone), and was issued
//! under the epoch the store has now. With the one
//! freshness rule, this is what the proxy and forward auth alike ask
//! (two copies of a security rule drift apart).

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::session::{CookieSealer, Session};
use crate::store::{EpochChange, EpochWatch, Store, StoreError};

/// How often each instance looks at the store's epoch even without
/// traffic, so a loss is noticed (logged, counted, a new epoch written)
/// within about this long.
pub const EPOCH_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Sessions as requests present them. Cheap to clone: every part is
/// shared, the epoch watch included (one per instance).
#[derive(Clone)]
pub struct Sessions {
    cookies: Arc<CookieSealer>,
    /// Revocations (logout) and the epoch live here, shared by instances.
    store: Arc<dyn Store>,
    /// The store epoch this instance saw last (see `store/epoch.rs`);
    /// one per instance, kept across reloads (server/live.rs).
    epoch: Arc<EpochWatch>,
    clock: Arc<dyn Clock>,
    /// The pumping blocks this instance set, restored after a loss.
    metrics: Arc<Metrics>,
}

impl Sessions {
    pub fn new(
        cookies: Arc<CookieSealer>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        epoch: Arc<EpochWatch>,
    ) -> Self {
        Sessions {
            cookies,
            epoch,
            store,
            clock,
            metrics,
        }
    }

    pub fn cookies(&self) -> &CookieSealer {
        &self.cookies
    }

    /// A valid, unrevoked session from the request's cookie, if any. One
    /// store call (revocation, the phone's not-before and epoch read
    /// together; the Redis store answers it from its revocation cache,
    /// without a round trip, while that is in step); the epoch
    /// compare is an integer compare on the decoded cookie.
    pub async fn of(&self, headers: &HeaderMap) -> Option<Session> {
        let sealed = crate::headers::cookie(headers, &self.cookies.session_name)?;
        let s = self.cookies.open_session(sealed, self.clock.now_secs())?;
        let check = match self
            .store
            .session_check(&s.id, &s.phone, self.clock.now_ms())
            .await
        {
            Ok(check) => check,
            Err(e) => {
                tracing::warn!(error = %e, "session check failed; treating as no session");
                return None;
            }
        };
        let epoch = match check.epoch {
            Some(e) if e == self.epoch.known() => e,
            found => match self.epoch.found(&*self.store, found).await {
                Ok((e, change)) => {
                    self.after_epoch_check(change).await;
                    e
                }
                Err(e) => {
                    tracing::warn!(error = %e, "store epoch check failed; treating as no session");
                    return None;
                }
            },
        };
        (!check.revoked && !ended_by_phone(&s, check.phone_not_before) && s.epoch == epoch)
            .then_some(s)
    }

    /// The one freshness rule: a session verified at most `max_age` (a
    /// route's `max_age`) ago.
    pub fn fresh(&self, session: Option<&Session>, max_age: Duration) -> bool {
        let now = self.clock.now_secs();
        session.is_some_and(|s| now.saturating_sub(s.verified_at) <= max_age.as_secs())
    }

    /// The epoch a new session cookie is issued under, read from the store
    /// (once per sign-in, never per request), so a cookie issued right
    /// after a loss already carries the new epoch.
    pub async fn store_epoch(&self) -> Result<u64, StoreError> {
        let (e, change) = self.epoch.refresh(&*self.store).await?;
        self.after_epoch_check(change).await;
        Ok(e)
    }

    /// The periodic and readiness check: notices a loss without traffic.
    pub async fn check_store_epoch(&self) -> Result<(), StoreError> {
        self.store_epoch().await.map(|_| ())
    }

    /// After a loss, the pumping blocks this instance set are written
    /// again (they are also in its memory, for the `prefix_blocked`
    /// gauge). Blocks set by other instances are restored by those; a block
    /// whose instance restarted too is gone, and the WARN says so.
    async fn after_epoch_check(&self, change: EpochChange) {
        if change == EpochChange::Same {
            return;
        }
        let now = self.clock.now_ms();
        for (prefix, until) in self.metrics.live_blocks(now) {
            if let Err(e) = crate::pumping::restore_block(&*self.store, &prefix, until).await {
                tracing::warn!(error = %e, prefix, "could not restore a pumping block");
            } else {
                tracing::warn!(
                    prefix,
                    "pumping block restored after the store lost its data"
                );
            }
        }
    }
}

/// Whether the admin API ended every session of the cookie's phone after
/// this one was verified. The cookie knows its second, the revoke its
/// millisecond: a session verified in the same second as the revoke is
/// ended too (fail closed; the shopper verifies again).
fn ended_by_phone(s: &Session, not_before_ms: Option<u64>) -> bool {
    not_before_ms.is_some_and(|nb| s.verified_at.saturating_mul(1000) <= nb)
}

/// Runs [`Sessions::check_store_epoch`] every [`EPOCH_CHECK_EVERY`] until
/// shutdown.
pub fn spawn_epoch_check(
    sessions: Sessions,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EPOCH_CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    // Failures (Redis down) are already visible in
                    // `/readyz`, the store metrics and the requests that
                    // need the store.
                    let _ = sessions.check_store_epoch().await;
                }
                _ = shutdown.changed() => return,
            }
        }
    })
}
