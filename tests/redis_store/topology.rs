//! Real Redis Cluster and Sentinel deployments on free loopback ports,
//! started from the test with the installed binaries (`redis-server`,
//! `redis-cli`, `redis-sentinel`) and killed on drop. Readiness is polled
//! from the servers themselves (`CLUSTER INFO`, `SENTINEL CKQUORUM`), never
//! slept for.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use otpgate::store::{RedisStore, RedisTarget};

/// One server process, killed on drop.
pub struct Proc {
    child: Child,
    pub port: u16,
}

impl Proc {
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `false` (after saying so) when a program is missing; with
/// `OTPGATE_REQUIRE_ALL=1` (CI) that is a failure instead.
pub fn installed(programs: &[&str]) -> bool {
    for p in programs {
        if let Err(e) = Command::new(p).arg("--version").output() {
            if std::env::var("OTPGATE_REQUIRE_ALL").as_deref() == Ok("1") {
                panic!("{p} is required (OTPGATE_REQUIRE_ALL=1) but could not run: {e}; apt-get install -y redis-server redis-sentinel redis-tools");
            }
            eprintln!("SKIPPED: {p} not found ({e}); apt-get install -y redis-server redis-sentinel redis-tools");
            return false;
        }
    }
    true
}

fn spawn(program: &str, args: &[String], port: u16) -> Proc {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let p = Proc { child, port };
    wait_until(&format!("{program} on {port}"), 10, || {
        cli(port, &["PING"]).trim() == "PONG"
    });
    p
}

fn redis_server(port: u16, dir: &Path, extra: &[&str]) -> Proc {
    let mut args: Vec<String> = ["--bind", "127.0.0.1", "--port", &port.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--save", "", "--appendonly", "no", "--dir"].map(String::from));
    args.push(dir.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    spawn("redis-server", &args, port)
}

/// What `redis-cli -p port args…` prints (empty when it cannot connect).
pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `ready` until it holds, failing the test after `secs` seconds.
pub fn wait_until(what: &str, secs: u64, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Three masters, no replicas (enough to spread the slots; failover on a
/// Cluster is Redis's own business and tested by `sentinel.rs`'s kind).
pub struct Cluster {
    pub nodes: Vec<Proc>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub fn start() -> Option<Cluster> {
        if !installed(&["redis-server", "redis-cli"]) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let nodes: Vec<Proc> = (0..3)
            .map(|_| {
                let port = free_port();
                // The bus port is chosen too: port + 10000 may not be free
                // (or may not exist) for an ephemeral port.
                let bus = free_port().to_string();
                let conf = dir.path().join(format!("nodes-{port}.conf"));
                let conf = conf.display().to_string();
                redis_server(
                    port,
                    dir.path(),
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        &conf,
                        "--cluster-port",
                        &bus,
                    ],
                )
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let mut create = vec!["--cluster", "create"];
        create.extend(addrs.iter().map(String::as_str));
        create.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let out = cli(nodes[0].port, &create);
        assert!(
            out.contains("All 16384 slots covered"),
            "cluster create: {out}"
        );
        for n in &nodes {
            wait_until("cluster_state:ok on every node", 20, || {
                let info = cli(n.port, &["CLUSTER", "INFO"]);
                info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:3")
            });
        }
        Some(Cluster { nodes, _dir: dir })
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}", n.port))
            .collect()
    }

    pub async fn store(&self) -> RedisStore {
        let target = RedisTarget::cluster(&self.urls()).unwrap();
        RedisStore::connect_to(&target).await.unwrap()
    }

    pub fn flush(&self) {
        for n in &self.nodes {
            assert_eq!(cli(n.port, &["FLUSHALL"]).trim(), "OK");
        }
    }
}

pub const MASTER_NAME: &str = "mymaster";

/// A master, its replica and three sentinels (quorum 2) that fail over a
/// second after the master stops answering.
pub struct SentinelSet {
    pub master: Proc,
    pub replica: Proc,
    pub sentinels: Vec<Proc>,
    _dir: tempfile::TempDir,
}

impl SentinelSet {
    pub fn start() -> Option<SentinelSet> {
        if !installed(&["redis-server", "redis-cli", "redis-sentinel"]) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let sub = |name: &str| {
            let d = dir.path().join(name);
            std::fs::create_dir(&d).unwrap();
            d
        };
        let master = redis_server(free_port(), &sub("master"), &[]);
        let m = master.port.to_string();
        let replica = redis_server(
            free_port(),
            &sub("replica"),
            &["--replicaof", "127.0.0.1", &m],
        );
        wait_until("the replica in sync", 10, || {
            cli(replica.port, &["INFO", "replication"]).contains("master_link_status:up")
        });
        let sentinels: Vec<Proc> = (0..3)
            .map(|i| {
                let port = free_port();
                let d = sub(&format!("sentinel{i}"));
                // Sentinel rewrites its config file: one writable copy each.
                let conf = d.join("sentinel.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "port {port}\nbind 127.0.0.1\ndir {}\n\
                         sentinel monitor {MASTER_NAME} 127.0.0.1 {m} 2\n\
                         sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                         sentinel failover-timeout {MASTER_NAME} 3000\n",
                        d.display()
                    ),
                )
                .unwrap();
                spawn("redis-sentinel", &[conf.display().to_string()], port)
            })
            .collect();
        for s in &sentinels {
            wait_until(
                "every sentinel to know the others and the replica",
                20,
                || {
                    let quorum = cli(s.port, &["SENTINEL", "CKQUORUM", MASTER_NAME]);
                    let replicas = cli(s.port, &["SENTINEL", "REPLICAS", MASTER_NAME]);
                    quorum.contains("3 usable Sentinels")
                        && replicas.contains(&replica.port.to_string())
                },
            );
        }
        Some(SentinelSet {
            master,
            replica,
            sentinels,
            _dir: dir,
        })
    }

    /// `redis+sentinel://…/mymaster`, the first sentinel given as an
    /// address where nothing listens (a dead sentinel is skipped).
    pub fn url(&self) -> String {
        let mut hosts = vec![format!("127.0.0.1:{}", free_port())];
        hosts.extend(
            self.sentinels
                .iter()
                .map(|s| format!("127.0.0.1:{}", s.port)),
        );
        format!("redis+sentinel://{}/{MASTER_NAME}", hosts.join(","))
    }

    pub async fn store(&self) -> RedisStore {
        RedisStore::connect(&self.url()).await.unwrap()
    }

    /// The master's port as the sentinels name it now.
    pub fn master_port(&self) -> u16 {
        let out = cli(
            self.sentinels[1].port,
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME],
        );
        out.lines()
            .nth(1)
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits until the replica has everything the master wrote, so a
    /// failover loses nothing the test relies on.
    pub fn replicated(&self) {
        let acked = cli(self.master.port, &["WAIT", "1", "5000"]);
        assert_eq!(acked.trim(), "1", "the replica acknowledged");
    }
}
