//! A throwaway `redis-server` for tests that share a store between
//! gateway instances (the same start-up as tests/redis_store and
//! tests/admin_api): no persistence, a free loopback port, killed on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    child: Child,
    pub url: String,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `None` (said loudly) when `redis-server` is not installed; a failure
/// under `OTPGATE_REQUIRE_ALL=1`.
pub fn redis() -> Option<Redis> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) if std::env::var("OTPGATE_REQUIRE_ALL").as_deref() == Ok("1") => {
            panic!("redis-server is required (OTPGATE_REQUIRE_ALL=1): {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: redis-server not found ({e}); apt-get install -y redis-server");
            return None;
        }
    };
    let r = Redis {
        child,
        url: format!("redis://127.0.0.1:{port}"),
    };
    // Redis accepts connections once it has started; poll with a deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(r)
}
