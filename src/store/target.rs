//! Where the Redis store connects, parsed and checked once at start-up:
//! one server (`redis://`, `rediss://`), a master found through Redis
//! Sentinel (`redis+sentinel://`, `rediss+sentinel://`), or a Redis
//! Cluster (`store.redis_cluster_urls`). Every form is shown redacted:
//! the password in a URL never reaches a message, a log line or `Debug`.

use std::fmt;

use redis::{ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo};

use crate::secret::redact_url as redact;

/// The port Redis Sentinel listens on unless told otherwise.
const SENTINEL_PORT: u16 = 26379;

/// A checked connection target. `Debug` and `Display` show it redacted.
#[derive(Clone)]
pub struct RedisTarget {
    pub(super) kind: Kind,
    shown: String,
    /// What the configuration said (passwords included): two targets are
    /// the same when it said the same (a reload keeps the store).
    source: Vec<String>,
}

impl PartialEq for RedisTarget {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for RedisTarget {}

#[derive(Clone)]
pub(super) enum Kind {
    Single(String),
    Sentinel {
        sentinels: Vec<ConnectionInfo>,
        master: String,
        /// Whether the master is reached over TLS (as the sentinels are).
        tls: bool,
        /// Credentials for the master the sentinels name (the sentinels
        /// themselves are asked without a password).
        node: RedisConnectionInfo,
    },
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// `redis[s]://…` for one server, `redis[s]+sentinel://[user:pass@]
    /// host:port,host:port/master_name` for Sentinel. Errors never repeat
    /// the password.
    pub fn from_url(url: &str) -> Result<RedisTarget, String> {
        let shown = redact(url);
        let kind = if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            sentinel(rest, false).map_err(|e| format!("`{shown}` {e}"))?
        } else if let Some(rest) = url.strip_prefix("rediss+sentinel://") {
            sentinel(rest, true).map_err(|e| format!("`{shown}` {e}"))?
        } else {
            single(url).map_err(|e| format!("`{shown}` {e}"))?;
            Kind::Single(url.to_string())
        };
        Ok(RedisTarget {
            kind,
            shown,
            source: vec![url.to_string()],
        })
    }

    /// The seed nodes of a Redis Cluster (any reachable one is enough;
    /// the client learns the others from it).
    pub fn cluster(urls: &[String]) -> Result<RedisTarget, String> {
        if urls.is_empty() {
            return Err("must list at least one node, e.g. [\"redis://10.0.0.1:7000\"]".into());
        }
        for url in urls {
            single(url).map_err(|e| format!("`{}` {e}", redact(url)))?;
        }
        let shown: Vec<String> = urls.iter().map(|u| redact(u)).collect();
        Ok(RedisTarget {
            kind: Kind::Cluster(urls.to_vec()),
            shown: format!("cluster [{}]", shown.join(", ")),
            source: urls.to_vec(),
        })
    }

    /// Whether keys must be placed by hash slot (see `store/redis/keys.rs`).
    pub fn is_cluster(&self) -> bool {
        matches!(self.kind, Kind::Cluster(_))
    }
}

impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisTarget({:?})", self.shown)
    }
}

fn single(url: &str) -> Result<(), String> {
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err(
            "must start with redis://, rediss://, redis+sentinel:// or rediss+sentinel://".into(),
        );
    }
    url.into_connection_info()
        .map(|_| ())
        .map_err(|e| format!("is not a valid Redis URL: {e}"))
}

/// `rest` is what follows `redis[s]+sentinel://`.
fn sentinel(rest: &str, tls: bool) -> Result<Kind, String> {
    const FORM: &str =
        "(the form is redis+sentinel://[user:password@]host:26379,host:26379/master_name)";
    let (userinfo, rest) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let Some((hosts, master)) = rest.split_once('/') else {
        return Err(format!("names no master {FORM}"));
    };
    let master = master.strip_suffix('/').unwrap_or(master);
    let name_ok = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if master.is_empty() || !master.chars().all(name_ok) {
        return Err(format!(
            "has no valid master name after the hosts (letters, digits, - _ .) {FORM}"
        ));
    }
    let scheme = if tls { "rediss" } else { "redis" };
    let mut sentinels = Vec::new();
    for host in hosts.split(',').map(str::trim) {
        if host.is_empty() {
            return Err(format!("has an empty sentinel address {FORM}"));
        }
        let with_port = if has_port(host) {
            host.to_string()
        } else {
            format!("{host}:{SENTINEL_PORT}")
        };
        let info = format!("{scheme}://{with_port}")
            .into_connection_info()
            .map_err(|e| format!("has an invalid sentinel address `{host}`: {e}"))?;
        sentinels.push(info);
    }
    // The credentials belong to the master (and its replicas): parsed as
    // the redis crate parses any URL, percent-decoding included.
    let node = match userinfo {
        Some(u) => {
            format!("{scheme}://{u}@sentinel-master")
                .into_connection_info()
                .map_err(|e| format!("has invalid credentials: {e}"))?
                .redis
        }
        None => RedisConnectionInfo::default(),
    };
    Ok(Kind::Sentinel {
        sentinels,
        master: master.to_string(),
        tls,
        node,
    })
}

/// `host:port` or `[v6]:port` (a bare IPv6 address must be bracketed).
fn has_port(host: &str) -> bool {
    let after = host.rsplit_once(']').map_or(host, |(_, a)| a);
    after
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_sentinel_passwords() {
        assert_eq!(
            redact("redis+sentinel://:pw@a:26379,b:26379/mymaster"),
            "redis+sentinel://:***@a:26379,b:26379/mymaster"
        );
    }

    #[test]
    fn sentinel_urls() {
        let t = RedisTarget::from_url("redis+sentinel://:p%40ss@a:1,[::1]:2,c/mymaster").unwrap();
        let Kind::Sentinel {
            sentinels,
            master,
            tls,
            node,
        } = &t.kind
        else {
            panic!("not sentinel")
        };
        assert_eq!(master, "mymaster");
        let addrs: Vec<String> = sentinels.iter().map(|s| s.addr.to_string()).collect();
        assert_eq!(addrs, ["a:1", "::1:2", "c:26379"]);
        assert_eq!(node.password.as_deref(), Some("p@ss"));
        assert!(!tls);
        assert!(!format!("{t:?} {t}").contains("p%40ss"), "{t:?}");
        let tls = RedisTarget::from_url("rediss+sentinel://a:1/m").unwrap();
        assert!(matches!(&tls.kind, Kind::Sentinel { tls: true, .. }));
        for bad in [
            "redis+sentinel://a:1",
            "redis+sentinel://a:1/",
            "redis+sentinel://a:1,,b:2/m",
            "redis+sentinel://a:1/m/0",
            "redis+sentinel://:hunter2@a:x/m",
        ] {
            let e = RedisTarget::from_url(bad).err().unwrap();
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn cluster_urls_and_single_urls() {
        let c = RedisTarget::cluster(&["redis://:hunter2@a:7000".into(), "redis://b:7001".into()])
            .unwrap();
        assert!(c.is_cluster());
        assert!(!c.to_string().contains("hunter2"), "{c}");
        assert!(RedisTarget::cluster(&[]).is_err());
        let e = RedisTarget::cluster(&["http://:hunter2@a".into()])
            .err()
            .unwrap();
        assert!(!e.contains("hunter2") && e.contains("redis://"), "{e}");
        assert!(!RedisTarget::from_url("redis://a:6379/0")
            .unwrap()
            .is_cluster());
    }
}
