//! A client for the admin listener, and a gateway with its token: shared
//! by the admin API suites.

use serde_json::Value;

use super::support::{gateway, GatewayBuilder, Gw, Shop};

pub const TOKEN: &str = "admin-token-0123456789abcdef0123456789";

pub struct Api {
    pub base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn of(gw: &Gw) -> Api {
        let admin = gw.running.as_ref().unwrap().admin_addr.unwrap();
        Api {
            base: format!("http://{admin}"),
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string());
        self.call(method, path, Some(TOKEN), body.as_deref()).await
    }
}

pub fn with_token(shop: &Shop) -> GatewayBuilder {
    gateway(shop)
        .route("/checkout", "otp")
        .set("admin.token", &format!("{TOKEN:?}"))
}
