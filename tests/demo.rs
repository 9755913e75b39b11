//! The README's first command: `otpgate demo` needs no configuration, serves
//! the shop through the gateway, and walks the whole flow with the code
//! printed on standard output.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn demo_serves_the_shop_and_the_flow_with_zero_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_otpgate"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _demo = Demo(child);
    let (tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let next_line_with = |needle: &str| loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no line with {needle:?} on stdout"));
        if line.contains(needle) {
            return line;
        }
    };
    let banner = next_line_with("https://");
    let base = banner[banner.find("https://").unwrap()..]
        .trim_end_matches('/')
        .to_string();
    assert!(
        dir.path().join("certs/cert.pem").exists(),
        "the demo made its certificate under certs/"
    );

    let cert = std::fs::read(dir.path().join("certs/cert.pem")).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let home = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("Demo Shop"));
    let checkout = client
        .get(format!("{base}/checkout"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(checkout.status(), 302);

    // The flow, with cookies carried by hand.
    let login = client
        .get(format!("{base}/.otpgate/login?rd=%2Fcheckout"))
        .send()
        .await
        .unwrap();
    let csrf_cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = login.text().await.unwrap();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &page[at..at + page[at..].find('"').unwrap()];
    let sent = client
        .post(format!("{base}/.otpgate/send"))
        .header("cookie", &csrf_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "phone=%2B91+98123+45678&csrf={csrf}&rd=%2Fcheckout"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 303);
    let pending = sent.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    next_line_with("SMS to +919812345678");
    let body = next_line_with("#");
    let code: String = body.rsplit('#').next().unwrap().trim().to_string();
    assert_eq!(code.len(), 6, "{body}");
    let done = client
        .post(format!("{base}/.otpgate/verify"))
        .header("cookie", format!("{csrf_cookie}; {pending}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("code={code}&csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "/checkout");
    let session = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("__Host-otpgate="))
        .unwrap();
    let page = client
        .get(format!("{base}/checkout"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text().await.unwrap().contains("+919812345678"),
        "the shop greets the verified phone"
    );
}
