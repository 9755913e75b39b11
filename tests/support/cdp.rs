//! A tiny Chrome DevTools Protocol client for the browser test: starts
//! headless Chromium with its debugging port on port 0, opens a page and
//! drives it like a shopper would (focus, type, tap), one bounded step at a
//! time. Protocol reference: <https://chromedevtools.github.io/devtools-protocol/>.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::time::{timeout, timeout_at, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The longest any one step (a command, a page load) may take.
pub const STEP: Duration = Duration::from_secs(30);

/// `$OTPGATE_CHROMIUM` when set, else Debian's chromium: `/usr/bin/chromium`,
/// else `chromium` on `PATH`.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(chosen) = std::env::var_os("OTPGATE_CHROMIUM") {
        return Some(PathBuf::from(chosen)).filter(|c| c.is_file());
    }
    let fixed = PathBuf::from("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|c| c.is_file())
}

/// A running headless Chromium; killed when dropped (even on a panic).
pub struct Chromium {
    child: Child,
    browser: Conn,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Chromium {
    pub async fn launch(bin: &Path) -> Chromium {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-proxy-server",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--ignore-certificate-errors",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));

        // Chromium prints the browser's websocket on stderr; keep draining
        // it afterwards so a full pipe never blocks the browser.
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = oneshot::channel();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let kept = stderr.clone();
        tokio::spawn(async move {
            let mut tx = Some(tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url.trim().to_string());
                    }
                }
                let mut kept = kept.lock().unwrap();
                if kept.len() < 200 {
                    kept.push(line);
                }
            }
        });
        let url = match timeout(STEP, rx).await {
            Ok(Ok(url)) => url,
            _ => panic!(
                "chromium gave no DevTools URL within {STEP:?}; stderr:\n{}",
                stderr.lock().unwrap().join("\n")
            ),
        };
        let port = url
            .strip_prefix("ws://127.0.0.1:")
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected DevTools URL {url}"));
        let browser = Conn::connect(&url).await;
        Chromium {
            child,
            browser,
            port,
            _profile: profile,
        }
    }

    /// A fresh tab, driven over its own websocket.
    pub async fn new_page(&mut self) -> Page {
        let target = self
            .browser
            .call("Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let id = target["targetId"].as_str().expect("targetId");
        let conn = Conn::connect(&format!("ws://127.0.0.1:{}/devtools/page/{id}", self.port)).await;
        Page { conn }
    }

    /// Asks the browser to quit (so its helper processes go too), and kills
    /// it if it does not.
    pub async fn close(mut self) {
        let _ = timeout(
            Duration::from_secs(5),
            self.browser.try_call("Browser.close", json!({})),
        )
        .await;
        if timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// One DevTools websocket: commands answered by id, events kept in order.
struct Conn {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Every event received so far (console messages, log entries, loads).
    events: Vec<Value>,
    /// `wait_event` only looks at events from this index on.
    cursor: usize,
}

impl Conn {
    async fn connect(url: &str) -> Conn {
        let (ws, _) = match timeout(STEP, tokio_tungstenite::connect_async(url)).await {
            Ok(Ok(connected)) => connected,
            Ok(Err(e)) => panic!("connecting to {url}: {e}"),
            Err(_) => panic!("connecting to {url} timed out"),
        };
        Conn {
            ws,
            next_id: 0,
            events: Vec::new(),
            cursor: 0,
        }
    }

    async fn recv(&mut self, deadline: Instant) -> Result<Value, String> {
        loop {
            match timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Err(format!("nothing from chromium within {STEP:?}")),
                Ok(None) => return Err("chromium closed the websocket".into()),
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(Some(Ok(Message::Text(t)))) => {
                    return serde_json::from_str(&t).map_err(|e| format!("{e}: {t}"))
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({ "id": id, "method": method, "params": params });
        self.ws
            .send(Message::Text(msg.to_string()))
            .await
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + STEP;
        loop {
            let msg = self.recv(deadline).await?;
            if msg["id"] == id {
                return match msg.get("error") {
                    Some(e) => Err(e.to_string()),
                    None => Ok(msg["result"].clone()),
                };
            }
            if msg.get("method").is_some() {
                self.events.push(msg);
            }
        }
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params.clone())
            .await
            .unwrap_or_else(|e| panic!("{method} {params}: {e}"))
    }

    /// Forget events so far for waiting (they stay in `events`).
    fn mark(&mut self) {
        self.cursor = self.events.len();
    }

    async fn wait_event(&mut self, method: &str) -> Value {
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(i) = self.events[self.cursor..]
                .iter()
                .position(|e| e["method"] == method)
            {
                self.cursor += i + 1;
                return self.events[self.cursor - 1].clone();
            }
            let msg = self
                .recv(deadline)
                .await
                .unwrap_or_else(|e| panic!("waiting for {method}: {e}"));
            if msg.get("method").is_some() {
                self.events.push(msg);
            }
        }
    }
}

/// Where an element is on screen, and whether a tap there reaches it.
#[derive(Debug, Clone, Copy)]
pub struct BoxOnScreen {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// The element itself (or a child) is what `elementFromPoint` finds at
    /// its centre: nothing covers it.
    pub hit: bool,
}

/// One tab.
pub struct Page {
    conn: Conn,
}

impl Page {
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.conn.call(method, params).await
    }

    /// Every event received so far (needs the domain enabled first).
    pub fn events(&self) -> &[Value] {
        &self.conn.events
    }

    /// A phone screen: `width`×`height` CSS pixels, 2× density, mobile
    /// viewport rules (the page's `<meta name=viewport>` applies).
    pub async fn phone_screen(&mut self, width: u32, height: u32) {
        let metrics =
            json!({ "width": width, "height": height, "deviceScaleFactor": 2, "mobile": true });
        self.call("Emulation.setDeviceMetricsOverride", metrics)
            .await;
        // Headless tabs are not focused windows; a phone's one tab is.
        self.call(
            "Emulation.setFocusEmulationEnabled",
            json!({ "enabled": true }),
        )
        .await;
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            self.call(domain, json!({})).await;
        }
    }

    /// The value of a JavaScript expression (promises awaited).
    pub async fn eval(&mut self, expr: &str) -> Value {
        let params = json!({ "expression": expr, "returnByValue": true, "awaitPromise": true });
        let r = self.call("Runtime.evaluate", params).await;
        if let Some(ex) = r.get("exceptionDetails") {
            panic!("{expr} threw: {ex}");
        }
        r["result"]["value"].clone()
    }

    pub async fn goto(&mut self, url: &str) {
        self.conn.mark();
        let r = self.call("Page.navigate", json!({ "url": url })).await;
        if let Some(err) = r.get("errorText") {
            panic!("navigating to {url}: {err}");
        }
        self.conn.wait_event("Page.loadEventFired").await;
    }

    /// Runs `expr` (a click, `history.back()`, a form's `submit()`) and
    /// waits for the page it loads.
    pub async fn eval_and_wait(&mut self, expr: &str) {
        self.conn.mark();
        self.eval(expr).await;
        self.conn.wait_event("Page.loadEventFired").await;
    }

    /// Waits until the tab shows `url`, however many pages (and page
    /// scripts that submit a form themselves) it takes; each load is an
    /// event, so none is missed between looks.
    pub async fn wait_for_href(&mut self, url: &str) {
        while self.href().await != url {
            self.conn.wait_event("Page.loadEventFired").await;
        }
    }

    /// The browser's `Accept-Language`, as a phone set to that language
    /// sends it.
    pub async fn accept_language(&mut self, value: &str) {
        let ua = self.eval("navigator.userAgent").await;
        let params = json!({ "userAgent": ua, "acceptLanguage": value });
        self.call("Emulation.setUserAgentOverride", params).await;
    }

    pub async fn href(&mut self) -> String {
        self.eval("location.href")
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Focuses the field (as a tap would), selects what is in it, and types
    /// `text` over it.
    pub async fn type_into(&mut self, selector: &str, text: &str) {
        let found = self
            .eval(&format!(
                "(() => {{ const el = document.querySelector({}); if (!el) return false; el.focus(); el.select(); return document.activeElement === el; }})()",
                json!(selector)
            ))
            .await;
        assert_eq!(found, true, "{selector} is missing or cannot take focus");
        self.call("Input.insertText", json!({ "text": text })).await;
    }

    /// Scrolls `selector` into view and says where it is.
    pub async fn locate(&mut self, selector: &str) -> BoxOnScreen {
        let v = self
            .eval(&format!(
                "(() => {{ const el = document.querySelector({}); if (!el) return null;
                 el.scrollIntoView({{ block: 'center' }});
                 const r = el.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
                 const at = document.elementFromPoint(x, y);
                 return {{ x, y, width: r.width, height: r.height, hit: !!at && el.contains(at) }}; }})()",
                json!(selector)
            ))
            .await;
        assert!(!v.is_null(), "no element {selector}");
        let f = |k: &str| v[k].as_f64().unwrap();
        BoxOnScreen {
            x: f("x"),
            y: f("y"),
            width: f("width"),
            height: f("height"),
            hit: v["hit"] == true,
        }
    }

    /// Taps `selector` with a real mouse click at its centre, after
    /// checking it is on screen, big enough and not covered, and waits for
    /// the page that the click loads.
    pub async fn tap_and_wait(&mut self, selector: &str) {
        let b = self.locate(selector).await;
        assert!(b.hit, "{selector} is covered or off screen: {b:?}");
        assert!(
            b.width >= 44.0 && b.height >= 44.0,
            "{selector} is smaller than a 44 px touch target: {b:?}"
        );
        self.conn.mark();
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            let ev = json!({ "type": kind, "x": b.x, "y": b.y, "button": "left", "buttons": 1, "clickCount": 1 });
            self.call("Input.dispatchMouseEvent", ev).await;
        }
        self.conn.wait_event("Page.loadEventFired").await;
    }

    /// What assistive technology gets for `selector`: its computed role,
    /// accessible name (from its `<label>`) and description.
    pub async fn accessible(&mut self, selector: &str) -> (String, String, String) {
        let doc = self.call("DOM.getDocument", json!({ "depth": 0 })).await;
        let root = doc["root"]["nodeId"].clone();
        let found = self
            .call(
                "DOM.querySelector",
                json!({ "nodeId": root, "selector": selector }),
            )
            .await;
        let params = json!({ "nodeId": found["nodeId"], "fetchRelatives": false });
        let tree = self.call("Accessibility.getPartialAXTree", params).await;
        let node = &tree["nodes"][0];
        let text = |k: &str| node[k]["value"].as_str().unwrap_or("").to_string();
        (text("role"), text("name"), text("description"))
    }

    /// A PNG of what the screen shows now, written to `path`.
    pub async fn screenshot(&mut self, path: &Path) {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// The errors seen so far: `log: …` (browser messages such as CSP
    /// refusals), `console: …` and `exception: …` (uncaught in a page).
    pub fn errors(&self) -> Vec<String> {
        self.events()
            .iter()
            .filter_map(|e| match e["method"].as_str()? {
                "Log.entryAdded" if e["params"]["entry"]["level"] == "error" => {
                    let entry = &e["params"]["entry"];
                    Some(format!("log: {} ({})", entry["text"], entry["url"]))
                }
                "Runtime.consoleAPICalled" if e["params"]["type"] == "error" => {
                    Some(format!("console: {}", e["params"]["args"]))
                }
                "Runtime.exceptionThrown" => {
                    Some(format!("exception: {}", e["params"]["exceptionDetails"]))
                }
                _ => None,
            })
            .collect()
    }
}
