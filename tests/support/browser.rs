//! A browser-like client: keeps cookies, sends `Accept: text/html`, and
//! follows no redirect on its own (tests look at each step) — except the
//! `303` a refused form post answers with (post/redirect/get: it sets the
//! flash cookie), which it follows as a browser would: the answer is the
//! page that says why (`Resp::after_303` tells).

use std::collections::BTreeMap;
use std::path::PathBuf;

use http::HeaderMap;

pub struct Browser {
    client: reqwest::Client,
    base: String,
    sms_path: PathBuf,
    pub h2: bool,
    pub cookies: BTreeMap<String, String>,
    /// Every `Set-Cookie` line received, for attribute checks.
    pub set_cookies: Vec<String>,
    /// The `Accept-Language` it sends, if any ([`Browser::speaks`]).
    accept_language: Option<String>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    pub version: http::Version,
    /// Reached by following a refused post's `303` to this page.
    pub after_303: bool,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn location(&self) -> &str {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location in {} {}", self.status, self.body))
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
    /// The value of the hidden `csrf` field in a page.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf field in {}", self.body));
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

impl Browser {
    pub fn new(client: reqwest::Client, base: String, sms_path: PathBuf, h2: bool) -> Self {
        Browser {
            client,
            base,
            sms_path,
            h2,
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
            accept_language: None,
        }
    }

    /// From now on it asks for pages in `accept_language` (the header's
    /// value, e.g. `hi-IN,hi;q=0.9`), as a phone set to that language does.
    pub fn speaks(&mut self, accept_language: &str) {
        self.accept_language = Some(accept_language.to_string());
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Resp {
        let mut req = req.header("accept", "text/html");
        if !self.cookies.is_empty() {
            req = req.header("cookie", self.cookie_header());
        }
        if let Some(l) = &self.accept_language {
            req = req.header("accept-language", l);
        }
        let resp = req.send().await.unwrap();
        for sc in resp.headers().get_all("set-cookie") {
            let line = sc.to_str().unwrap().to_string();
            let (pair, attrs) = line.split_once(';').unwrap_or((&line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") || value.is_empty() {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_string(), value.to_string());
            }
            self.set_cookies.push(line);
        }
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let version = resp.version();
        let body = resp.text().await.unwrap();
        Resp {
            status,
            headers,
            body,
            version,
            after_303: false,
        }
    }

    /// Posts, then follows a refusal's `303` to the page that says it.
    async fn post_then_page(&mut self, req: reqwest::RequestBuilder) -> Resp {
        let resp = self.send(req).await;
        let flashed = resp.headers.get_all("set-cookie").iter().any(|c| {
            c.to_str()
                .is_ok_and(|c| c.contains("-flash=") && !c.contains("Max-Age=0"))
        });
        if resp.status != 303 || !flashed {
            return resp;
        }
        let mut page = self.get(resp.location()).await;
        page.after_303 = true;
        page
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    /// A top-level navigation, with the fetch metadata a browser sends:
    /// `site` is `same-origin`, `none` (typed) or `cross-site` (a link on
    /// another site).
    pub async fn navigate(&mut self, path: &str, site: &str) -> Resp {
        let req = self
            .client
            .get(format!("{}{path}", self.base))
            .header("sec-fetch-site", site)
            .header("sec-fetch-mode", "navigate")
            .header("sec-fetch-dest", "document");
        self.send(req).await
    }

    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.post_then_page(req).await
    }

    pub async fn post_json(&mut self, path: &str, v: serde_json::Value) -> Resp {
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(v.to_string());
        self.send(req).await
    }

    /// The newest code texted to `phone` (E.164; `*` for any number).
    pub fn code_for(&self, phone: &str) -> String {
        let text = std::fs::read_to_string(&self.sms_path).unwrap_or_default();
        let body = text
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| phone == "*" || v["to"] == phone)
            .unwrap_or_else(|| panic!("no SMS to {phone}"))["body"]
            .as_str()
            .unwrap()
            .to_string();
        super::code_in(&body)
    }

    /// Phone page, send; returns the answer to the send (303 to the code page).
    pub async fn start(&mut self, phone: &str, rd: &str) -> Resp {
        let enc: String = form_urlencoded::byte_serialize(rd.as_bytes()).collect();
        let page = self.get(&format!("/.otpgate/login?rd={enc}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let csrf = page.csrf();
        self.post_form(
            "/.otpgate/send",
            &[("phone", phone), ("csrf", &csrf), ("rd", rd)],
        )
        .await
    }

    /// Code page, then the code; returns the answer to the verify post.
    pub async fn enter_code(&mut self, code: &str) -> Resp {
        let page = self.get("/.otpgate/verify").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let csrf = page.csrf();
        self.post_form("/.otpgate/verify", &[("code", code), ("csrf", &csrf)])
            .await
    }

    /// The whole flow for `phone`, ending at the 303 back to `rd`.
    pub async fn log_in(&mut self, phone: &str, rd: &str) -> Resp {
        let sent = self.start(phone, rd).await;
        assert_eq!(sent.status, 303, "send: {}", sent.body);
        let code = self.code_for("*");
        let done = self.enter_code(&code).await;
        assert_eq!(done.status, 303, "verify: {}", done.body);
        done
    }
}

impl Browser {
    /// Posts a code with a given CSRF token, without loading the page.
    pub async fn enter_code_raw(&mut self, code: &str, csrf: &str) -> Resp {
        self.post_form("/.otpgate/verify", &[("code", code), ("csrf", csrf)])
            .await
    }
}

impl Browser {
    /// Submits `body` as a form of type `content_type` would (a browser
    /// navigation: `Accept: text/html`), e.g. the checkout's place-order.
    pub async fn submit(&mut self, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .header("referer", format!("{}/cart", self.base))
            .body(body);
        self.send(req).await
    }

    /// A script's request (`fetch`): JSON accepted, no HTML.
    pub async fn fetch(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .header("content-type", content_type)
            .header("accept", "application/json")
            .header("sec-fetch-mode", "cors")
            .header("origin", self.base.clone())
            .body(body);
        if !self.cookies.is_empty() {
            req = req.header("cookie", self.cookie_header());
        }
        let resp = req.send().await.unwrap();
        self.absorb(resp).await
    }

    /// Takes a response's cookies, as [`Browser::send`] does.
    async fn absorb(&mut self, resp: reqwest::Response) -> Resp {
        for sc in resp.headers().get_all("set-cookie") {
            let line = sc.to_str().unwrap().to_string();
            let (pair, attrs) = line.split_once(';').unwrap_or((&line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") || value.is_empty() {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_string(), value.to_string());
            }
            self.set_cookies.push(line);
        }
        Resp {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            version: resp.version(),
            body: resp.text().await.unwrap(),
            after_303: false,
        }
    }

    /// A JSON post from the storefront's own page (`Sec-Fetch-Site:
    /// same-origin`), for the JSON API.
    pub async fn api(&mut self, path: &str, v: serde_json::Value) -> Resp {
        self.fetch("POST", path, "application/json", v.to_string().into_bytes())
            .await
    }
}
