//! The Redis store: the memory store's semantics, atomic under parallel
//! callers, and several gateway instances sharing one Redis. Each test
//! starts its own `redis-server` (from PATH) on a free loopback port.

#[path = "../support/mod.rs"]
mod support;

mod checks;
mod cluster;
mod data_loss;
mod gateways;
mod held;
mod memory;
mod reconnect;
mod revocation_cache;
mod semantics;
mod sentinel;
mod topology;
mod transaction;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use otpgate::store::RedisStore;

/// A `redis-server` process with no persistence, killed on drop.
pub struct RedisServer {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// `None` (after saying so) when `redis-server` is not installed; with
    /// `OTPGATE_REQUIRE_ALL=1` (CI) that is a failure instead.
    pub fn start() -> Option<RedisServer> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port)
    }

    /// A fresh, empty server on `port` (e.g. a restart after [`Self::kill`]).
    pub fn start_on(port: u16) -> Option<RedisServer> {
        Self::start_in(port, tempfile::tempdir().unwrap())
    }

    fn start_in(port: u16, dir: tempfile::TempDir) -> Option<RedisServer> {
        let spawned = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(c) => c,
            Err(e) if std::env::var("OTPGATE_REQUIRE_ALL").as_deref() == Ok("1") => {
                panic!("redis-server is required (OTPGATE_REQUIRE_ALL=1) but could not start: {e}; apt-get install -y redis-server")
            }
            Err(e) => {
                eprintln!("SKIPPED: redis-server not found ({e}); apt-get install -y redis-server");
                return None;
            }
        };
        let server = RedisServer {
            child,
            url: format!("redis://127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pong(port) {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Restarts on the same port with the same data (saved on shutdown,
    /// loaded at start): every client connection is closed, nothing lost.
    pub fn restart_keeping_data(self) -> RedisServer {
        let port = self.port();
        command(port, "SHUTDOWN SAVE");
        let mut this = self;
        let _ = this.child.wait();
        let dir = std::mem::replace(&mut this._dir, tempfile::tempdir().unwrap());
        Self::start_in(port, dir).unwrap()
    }

    /// Restarts on the same port, empty (no persistence).
    pub fn restart_empty(self) -> RedisServer {
        let port = self.port();
        drop(self);
        Self::start_on(port).unwrap()
    }

    pub async fn store(&self) -> RedisStore {
        RedisStore::connect(&self.url).await.unwrap()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends one inline command and returns the first reply line.
pub fn command(port: u16, cmd: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
    let mut line = String::new();
    let _ = BufReader::new(s).read_line(&mut line);
    line
}

fn pong(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// Starts Redis or returns from the test (skipped).
#[macro_export]
macro_rules! redis_or_skip {
    () => {
        match $crate::RedisServer::start() {
            Some(r) => r,
            None => return,
        }
    };
}

/// How long a revocation written on one instance may take to be enforced
/// on another: the revocation cache's bound (1 s, src/store/redis/cache.rs)
/// and slack for a busy test machine.
pub const STALENESS: Duration = Duration::from_millis(1_300);

/// Polls `path` until it answers `status` (panics after [`STALENESS`]):
/// what another instance answers once a revocation reached it.
pub async fn status_within(b: &mut support::Browser, path: &str, status: u16, what: &str) {
    let t = Instant::now();
    loop {
        let got = b.get(path).await.status;
        if got == status {
            return;
        }
        assert!(t.elapsed() < STALENESS, "{what}: {path} answered {got}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
