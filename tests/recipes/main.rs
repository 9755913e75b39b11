//! The deployment recipes in `deploy/`, run by the real Debian `nginx` and
//! `caddy` in front of the test storefront, with a real otpgate as their
//! forward-auth check. Each file is used as shipped; only its addresses,
//! ports and certificate paths are replaced (and each replacement must find
//! its text, so a recipe that drifts breaks this test).
//!
//! A missing program skips loudly, and fails under `OTPGATE_REQUIRE_ALL=1`.

#[path = "../support/mod.rs"]
mod support;

mod walk;

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{gateway, upstream, Browser, Gw, Shop};

const RECIPES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");

/// A front proxy (nginx or Caddy) running a recipe.
pub struct Front {
    pub name: &'static str,
    child: Child,
    pub base: String,
    root_pem: Vec<u8>,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Front {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Front {
    /// A client of the front that connects from `local` (a loopback
    /// address other than nginx's own 127.0.0.1, as a real shopper is).
    pub fn client(&self, local: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&self.root_pem).unwrap())
            .tls_built_in_root_certs(false)
            .local_address(local.parse::<IpAddr>().unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .http1_only()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    pub fn browser(&self, gw: &Gw, client: &reqwest::Client) -> Browser {
        Browser::new(
            client.clone(),
            self.base.clone(),
            gw.sms_path.clone(),
            false,
        )
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// The path of `program`, or `None` after saying the test is skipped.
fn installed(program: &str, package: &str) -> Option<PathBuf> {
    let found = ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"]
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| p.exists());
    if found.is_none() {
        if std::env::var("OTPGATE_REQUIRE_ALL").as_deref() == Ok("1") {
            panic!("{program} is required (OTPGATE_REQUIRE_ALL=1): apt-get install -y {package}");
        }
        eprintln!("SKIPPED: {program} not found; apt-get install -y {package}");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `text` with each `(from, to)` replaced; every `from` must occur.
fn substitute(name: &str, text: &str, pairs: &[(&str, String)]) -> String {
    let mut out = text.to_string();
    for (from, to) in pairs {
        assert!(out.contains(from), "{name} no longer contains {from:?}");
        out = out.replace(from, to);
    }
    out
}

/// The otpgate behind the front: `/checkout` needs a code, nginx/Caddy on
/// 127.0.0.1 is its only trusted proxy, and a client IP may send 3 codes.
async fn otpgate(shop: &Shop) -> Gw {
    gateway(shop)
        .route("/checkout", "otp")
        .set("server.trusted_proxies", r#"["127.0.0.1/32"]"#)
        .set("limits.send_per_ip", r#"{ max = 3, window = "1h" }"#)
        .run()
        .await
}

/// Certificate and key for the front (the shopper's side), and the path of
/// otpgate's own certificate, which the recipes pin.
fn certs(dir: &Path, gw: &Gw) -> (String, String, String) {
    otpgate::tls::write_self_signed(dir, &["localhost".into(), "127.0.0.1".into()]).unwrap();
    let otpgate_pem = dir.join("otpgate-cert.pem");
    std::fs::write(&otpgate_pem, &gw.cert_pem).unwrap();
    let p = |f: &Path| f.display().to_string();
    (
        p(&dir.join("cert.pem")),
        p(&dir.join("key.pem")),
        p(&otpgate_pem),
    )
}

async fn wait_until_listening(front: &mut Front, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if let Ok(Some(status)) = front.child.try_wait() {
            panic!("{} exited ({status}):\n{}", front.name, front.logs());
        }
        assert!(
            Instant::now() < deadline,
            "{} did not listen:\n{}",
            front.name,
            front.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn nginx(gw: &Gw, shop: &Shop) -> Option<Front> {
    let bin = installed("nginx", "nginx")?;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, otpgate_pem) = certs(dir.path(), gw);
    let port = free_port();
    let recipe = std::fs::read_to_string(format!("{RECIPES}/nginx/otpgate.conf")).unwrap();
    let site = substitute(
        "deploy/nginx/otpgate.conf",
        &recipe,
        &[
            ("listen 443 ssl", format!("listen 127.0.0.1:{port} ssl")),
            ("/etc/ssl/certs/shop.example.com.pem", cert),
            ("/etc/ssl/private/shop.example.com.key", key),
            ("/etc/otpgate/cert.pem", otpgate_pem),
            ("127.0.0.1:8443", gw.addr.to_string()),
            ("127.0.0.1:3000", shop.addr.to_string()),
        ],
    );
    let d = dir.path().display();
    std::fs::write(dir.path().join("otpgate.conf"), site).unwrap();
    // What Debian's /etc/nginx/nginx.conf provides around conf.d/, in the
    // temporary directory (one process, no privileges dropped).
    let main = format!(
        "master_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/otpgate.conf;\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
    let stderr = dir.path().join("error.log");
    let child = Command::new(bin)
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(&stderr)
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut front = Front {
        name: "nginx",
        child,
        base: format!("https://127.0.0.1:{port}"),
        root_pem: std::fs::read(dir.path().join("cert.pem")).unwrap(),
        stderr,
        _dir: dir,
    };
    wait_until_listening(&mut front, port).await;
    Some(front)
}

async fn caddy(gw: &Gw, shop: &Shop) -> Option<Front> {
    let bin = installed("caddy", "caddy")?;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, otpgate_pem) = certs(dir.path(), gw);
    let port = free_port();
    let recipe = std::fs::read_to_string(format!("{RECIPES}/caddy/Caddyfile")).unwrap();
    let site = substitute(
        "deploy/caddy/Caddyfile",
        &recipe,
        &[
            (
                "shop.example.com {",
                format!("https://127.0.0.1:{port} {{\n\ttls {cert} {key}"),
            ),
            ("/etc/otpgate/cert.pem", otpgate_pem),
            ("127.0.0.1:8443", gw.addr.to_string()),
            ("127.0.0.1:3000", shop.addr.to_string()),
        ],
    );
    // No admin endpoint, no certificate automation, no HTTP->HTTPS listener
    // on port 80: nothing outside the temporary directory and the one port.
    let d = dir.path().display();
    let global =
        format!("{{\n\tadmin off\n\tauto_https off\n\tstorage file_system {d}/data\n}}\n\n");
    let file = dir.path().join("Caddyfile");
    std::fs::write(&file, global + &site).unwrap();
    let stderr = dir.path().join("caddy.log");
    let child = Command::new(bin)
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&file)
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut front = Front {
        name: "caddy",
        child,
        base: format!("https://127.0.0.1:{port}"),
        root_pem: std::fs::read(dir.path().join("cert.pem")).unwrap(),
        stderr,
        _dir: dir,
    };
    wait_until_listening(&mut front, port).await;
    Some(front)
}

#[tokio::test]
async fn nginx_recipe_walks_the_flow_and_keeps_the_trust_boundary() {
    let shop = upstream().await;
    let gw = otpgate(&shop).await;
    let Some(front) = nginx(&gw, &shop).await else {
        return;
    };
    walk::flow(&front, &gw, &shop).await;
}

#[tokio::test]
async fn caddy_recipe_walks_the_flow_and_keeps_the_trust_boundary() {
    let shop = upstream().await;
    let gw = otpgate(&shop).await;
    let Some(front) = caddy(&gw, &shop).await else {
        return;
    };
    walk::flow(&front, &gw, &shop).await;
}

/// "The README snippets are these files": each recipe appears in the README
/// character for character.
#[test]
fn readme_shows_the_recipes_as_shipped() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for file in ["nginx/otpgate.conf", "caddy/Caddyfile"] {
        let text = std::fs::read_to_string(format!("{RECIPES}/{file}")).unwrap();
        assert!(
            readme.contains(text.trim_end()),
            "README.md does not show deploy/{file} as it is"
        );
    }
}
