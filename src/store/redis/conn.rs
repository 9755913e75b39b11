//! The connection a store call runs on, for each kind of deployment:
//!
//! - one server: the redis crate's `ConnectionManager`, which reconnects
//!   to the same address by itself;
//! - Sentinel: a connection to the master the sentinels name. A failover
//!   moves the master to another address, so reconnecting to the old one
//!   is wrong (it is dead, or it came back as a replica and answers
//!   `READONLY`). Any sign that the connection no longer reaches a master
//!   drops it, and the next call asks the sentinels again;
//! - Cluster: the crate's cluster connection, which follows `MOVED`/`ASK`
//!   and routes each command to the master of its keys' slot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection, PubSub,
};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, Pipeline,
    RedisConnectionInfo, RedisError, RedisFuture, RedisResult, Value,
};

use crate::store::target::{Kind, RedisTarget};

pub(super) enum Backend {
    Single(ConnectionManager),
    Sentinel(SentinelMaster),
    Cluster(ClusterConnection),
}

/// A connection handed to one call; cheap to clone (all three multiplex).
/// It lives on the stack for one call: boxing the large variant would
/// cost an allocation per store call instead.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Master(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Master(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Master(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Master(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// A call's connection, and which Sentinel connection it was (0: not one).
pub(super) struct Lease {
    pub conn: Conn,
    pub generation: u64,
}

impl Backend {
    /// Connects once; `timeout` bounds each connect and each answer.
    pub async fn open(target: &RedisTarget, timeout: Duration) -> RedisResult<Backend> {
        match &target.kind {
            Kind::Single(url) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(timeout)
                    .set_response_timeout(timeout)
                    .set_number_of_retries(2)
                    .set_max_delay(1000);
                let client = Client::open(url.as_str())?;
                Ok(Backend::Single(
                    ConnectionManager::new_with_config(client, config).await?,
                ))
            }
            Kind::Sentinel {
                sentinels,
                master,
                tls,
                node,
            } => {
                let s = SentinelMaster {
                    sentinels: sentinels.clone(),
                    master: master.clone(),
                    tls: *tls,
                    node: node.clone(),
                    timeout,
                    current: Mutex::new(None),
                    resolving: tokio::sync::Mutex::new(()),
                    generations: AtomicU64::new(0),
                };
                s.lease().await?;
                Ok(Backend::Sentinel(s))
            }
            Kind::Cluster(urls) => {
                let client = ClusterClient::builder(urls.iter().map(String::as_str))
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .retries(2)
                    .build()?;
                Ok(Backend::Cluster(client.get_async_connection().await?))
            }
        }
    }

    pub async fn lease(&self) -> RedisResult<Lease> {
        Ok(match self {
            Backend::Single(c) => Lease {
                conn: Conn::Single(c.clone()),
                generation: 0,
            },
            Backend::Sentinel(s) => s.lease().await?,
            Backend::Cluster(c) => Lease {
                conn: Conn::Cluster(c.clone()),
                generation: 0,
            },
        })
    }

    /// A call on `generation` failed with `error` (`None`: it timed out).
    pub fn failed(&self, generation: u64, error: Option<&RedisError>) {
        if let Backend::Sentinel(s) = self {
            if error.is_none_or(not_a_master) {
                s.drop_connection(generation);
            }
        }
    }

    /// The master connection answered as a replica: forget it, whichever
    /// it was.
    pub fn failed_role(&self) {
        if let Backend::Sentinel(s) = self {
            let generation = s.current().map_or(0, |l| l.generation);
            s.drop_connection(generation);
        }
    }

    pub fn is_sentinel(&self) -> bool {
        matches!(self, Backend::Sentinel(_))
    }
}

/// Whether `e` says the connection may no longer reach the master: it
/// broke, or the server is a replica now (`READONLY`, `MASTERDOWN`).
fn not_a_master(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || e.is_timeout()
        || matches!(e.kind(), ErrorKind::ReadOnly | ErrorKind::MasterDown)
        || e.code() == Some("READONLY")
}

pub(super) struct SentinelMaster {
    sentinels: Vec<ConnectionInfo>,
    master: String,
    tls: bool,
    node: RedisConnectionInfo,
    timeout: Duration,
    /// The connection to the master and its generation; `None` after a
    /// failure, so the next call asks the sentinels again. Never held
    /// across an `.await`.
    current: Mutex<Option<(u64, MultiplexedConnection)>>,
    /// One resolution at a time: the calls that fail together at a
    /// failover wait for one answer instead of all asking the sentinels.
    resolving: tokio::sync::Mutex<()>,
    generations: AtomicU64,
}

impl SentinelMaster {
    fn current(&self) -> Option<Lease> {
        let cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        cur.as_ref().map(|(generation, c)| Lease {
            conn: Conn::Master(c.clone()),
            generation: *generation,
        })
    }

    async fn lease(&self) -> RedisResult<Lease> {
        if let Some(l) = self.current() {
            return Ok(l);
        }
        let _one = self.resolving.lock().await;
        if let Some(l) = self.current() {
            return Ok(l);
        }
        let conn = self.resolve().await?;
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some((generation, conn.clone()));
        Ok(Lease {
            conn: Conn::Master(conn),
            generation,
        })
    }

    /// Forgets the connection `generation`, unless a newer one replaced it.
    fn drop_connection(&self, generation: u64) {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if cur.as_ref().is_some_and(|(g, _)| *g == generation) {
            tracing::info!(master = %self.master, "redis master connection failed; asking the sentinels again");
            *cur = None;
        }
    }

    /// Asks each sentinel in turn for the master's address, and keeps the
    /// first answer that really is a master (`ROLE`): a sentinel cut off
    /// from the others may still name the old one.
    async fn resolve(&self) -> RedisResult<MultiplexedConnection> {
        let mut last = None;
        for sentinel in &self.sentinels {
            match self.ask(sentinel).await {
                Ok(conn) => return Ok(conn),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| (ErrorKind::ClientError, "no sentinels").into()))
    }

    async fn ask(&self, sentinel: &ConnectionInfo) -> RedisResult<MultiplexedConnection> {
        let info = self.address(sentinel).await?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout);
        let mut conn = Client::open(info)?
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let role: Vec<Value> = redis::cmd("ROLE").query_async(&mut conn).await?;
        match role.first() {
            Some(Value::BulkString(r)) if r == b"master" => Ok(conn),
            _ => Err((
                ErrorKind::MasterNameNotFoundBySentinel,
                "the address a sentinel gave is not a master (failover in progress)",
            )
                .into()),
        }
    }

    /// The master's address as the first sentinel that answers names it.
    async fn master_address(&self) -> RedisResult<ConnectionInfo> {
        let mut last = None;
        for sentinel in &self.sentinels {
            match self.address(sentinel).await {
                Ok(info) => return Ok(info),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| (ErrorKind::ClientError, "no sentinels").into()))
    }

    async fn address(&self, sentinel: &ConnectionInfo) -> RedisResult<ConnectionInfo> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout);
        let mut s = Client::open(sentinel.clone())?
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let addr: Option<(String, u16)> = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(&self.master)
            .query_async(&mut s)
            .await?;
        let Some((host, port)) = addr else {
            return Err((
                ErrorKind::MasterNameNotFoundBySentinel,
                "sentinel does not monitor",
                self.master.clone(),
            )
                .into());
        };
        let addr = if self.tls {
            ConnectionAddr::TcpTls {
                host,
                port,
                insecure: false,
                tls_params: None,
            }
        } else {
            ConnectionAddr::Tcp(host, port)
        };
        Ok(ConnectionInfo {
            addr,
            redis: self.node.clone(),
        })
    }
}

/// A connection for the revocation cache's subscription. One server: that
/// server. Sentinel: the master the sentinels name now (a replica would
/// also deliver the master's messages, replicated; the heartbeat, sent to
/// the master, finds out if not). Cluster: the first node that answers,
/// since `PUBLISH` on a Cluster reaches every node (over the cluster bus,
/// which can drop a message: the cache's numbering notices).
pub(super) async fn subscriber(backend: &Backend, target: &RedisTarget) -> RedisResult<PubSub> {
    match (&target.kind, backend) {
        (_, Backend::Sentinel(s)) => Client::open(s.master_address().await?)?,
        (Kind::Single(url), _) => Client::open(url.as_str())?,
        (Kind::Cluster(urls), _) => {
            let mut last = None;
            for url in urls {
                match Client::open(url.as_str())?.get_async_pubsub().await {
                    Ok(p) => return Ok(p),
                    Err(e) => last = Some(e),
                }
            }
            return Err(last.unwrap_or_else(|| (ErrorKind::ClientError, "no nodes").into()));
        }
        (Kind::Sentinel { .. }, _) => {
            return Err((ErrorKind::ClientError, "sentinel target without sentinels").into())
        }
    }
    .get_async_pubsub()
    .await
}
