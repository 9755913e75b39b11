//! `[store]`: the memory store, or Redis as one server, a Sentinel set
//! (`redis_url = "redis+sentinel://…"`) or a Cluster
//! (`redis_cluster_urls = [...]`). Each form is checked here, before any
//! port is bound; messages name the key and never repeat a password.

use super::kit::{secret, Problems};
use crate::config::raw::RawStore;
use crate::config::StoreConfig;
use crate::store::target::RedisTarget;

const URL: &str = "store.redis_url";
const CLUSTER: &str = "store.redis_cluster_urls";

pub(super) fn store(p: &mut Problems, raw: &RawStore) -> StoreConfig {
    // The URLs may carry a password: "${ENV_VAR}" keeps it out of the file.
    let url = raw.redis_url.as_deref().map(|v| revealed(p, URL, v));
    let cluster: Option<Vec<String>> = raw
        .redis_cluster_urls
        .as_ref()
        .map(|list| list.iter().map(|v| revealed(p, CLUSTER, v)).collect());
    let backend = raw.backend.as_deref().unwrap_or("memory");
    match p.choice("store.backend", backend, &["memory", "redis"]) {
        Some("memory") => {
            // A deployment meant to share Redis that forgot `backend` would
            // run each instance on its own memory: logouts on one instance
            // would not reach the others.
            for (key, set) in [(URL, url.is_some()), (CLUSTER, cluster.is_some())] {
                if set {
                    p.add(
                        key,
                        "is set but store.backend is \"memory\" (set store.backend = \"redis\" to use it)",
                    );
                }
            }
            StoreConfig::Memory
        }
        Some(_) => {
            let target = match (url, cluster) {
                (Some(_), Some(_)) => Err((
                    CLUSTER,
                    "set either store.redis_url (one server or Sentinel) or store.redis_cluster_urls (Cluster), not both".to_string(),
                )),
                (Some(url), None) if !url.trim().is_empty() => {
                    RedisTarget::from_url(&url).map_err(|e| (URL, e))
                }
                (None, Some(urls)) => RedisTarget::cluster(&urls).map_err(|e| (CLUSTER, e)),
                _ => Err((
                    URL,
                    "is required when store.backend = \"redis\" (e.g. \"redis://127.0.0.1:6379\", \
                     or \"redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster\"; \
                     store.redis_cluster_urls for a Cluster)"
                        .to_string(),
                )),
            };
            match target {
                Ok(target) => StoreConfig::Redis { target },
                Err((key, problem)) => {
                    p.add(key, problem);
                    StoreConfig::Memory
                }
            }
        }
        None => StoreConfig::Memory,
    }
}

/// The value, with a `${ENV_VAR}` reference resolved (empty if unset: the
/// reference itself was reported).
fn revealed(p: &mut Problems, key: &str, value: &str) -> String {
    secret(p, key, value)
        .map(|s| s.expose().to_string())
        .unwrap_or_default()
}
