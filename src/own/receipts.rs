//! Delivery reports from MSG91 and Vonage, and what every provider's
//! receipt does once it is believed ([`settle`], also Twilio's path in
//! twilio_status.rs): count it, and mark the challenge so the code page
//! offers the next channel (flow/channels.rs).
//!
//! - `POST /.otpgate/sms/msg91/dlr?token=…`: MSG91 does not sign, so the
//!   URL entered in its panel carries `[sms.msg91] dlr_token`. In the
//!   query, not the path: the access log records paths, never queries.
//! - `GET|POST /.otpgate/sms/vonage/dlr`: signed with `[sms.vonage]
//!   signature_secret`, with a signed timestamp against replay.
//!
//! A forged report answers 403, a malformed one 400, and neither marks
//! anything: a receipt moves the shopper to another channel (a send that
//! costs money and a limit), so only one from the provider may.

use http::header::CONTENT_TYPE;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::input::{query_param, read_json, Form};
use super::reply;
use super::state::Own;
use crate::body::Body;
use crate::errors::GatewayError;
use crate::sms::dlr::{self, Report};

/// A believed final status for `message_id`: counted, then marked. The
/// one path for every provider, so they cannot drift apart.
pub(super) async fn settle(own: &Own, provider: &str, report: &Report, error_code: Option<&str>) {
    let metrics = own.flow.sms.metrics();
    crate::sms::record_receipt(
        metrics,
        provider,
        &report.to,
        None,
        report.status,
        error_code,
    );
    settle_counted(own, &report.message_id, report.status).await;
}

/// Marks an already counted status (Twilio counts with its own labels).
pub(super) async fn settle_counted(own: &Own, message_id: &str, status: &str) {
    match status {
        "failed" | "undelivered" => {
            crate::flow::mark_failed(&own.flow, message_id).await;
        }
        "delivered" => crate::flow::mark_delivered(&own.flow, message_id).await,
        _ => {}
    }
}

fn content_type(req: &Request<Incoming>) -> String {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

pub async fn msg91(own: &Own, req: Request<Incoming>) -> Result<Response<Body>, GatewayError> {
    let Some(token) = &own.msg91_dlr else {
        return Err(GatewayError::NotFound);
    };
    // Checked before the body is read: a forger learns nothing of it.
    let given = query_param(&req, "token").unwrap_or_default();
    if !dlr::token_matches(token.expose(), &given) {
        tracing::warn!("MSG91 delivery report with a wrong token refused");
        return Ok(reply::empty(StatusCode::FORBIDDEN));
    }
    let body = if content_type(&req).starts_with("application/json") {
        read_json(req).await?.1
    } else {
        // v2: form-encoded, the reports as JSON text in `data`.
        let (_, form) = Form::read(req).await?;
        let data = form.get("data").and_then(dlr::msg91_form_data);
        data.ok_or(GatewayError::BadBody)?
    };
    let reports = dlr::msg91_reports(&body).ok_or(GatewayError::BadBody)?;
    for report in &reports {
        settle(own, "msg91", report, None).await;
    }
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

pub async fn vonage(own: &Own, req: Request<Incoming>) -> Result<Response<Body>, GatewayError> {
    let Some((secret, method)) = &own.vonage_dlr else {
        return Err(GatewayError::NotFound);
    };
    let params = vonage_params(req).await?;
    let now = own.flow.clock.now_ms() / 1000;
    if !dlr::vonage_signature_valid(secret.expose(), *method, &params, now) {
        tracing::warn!("Vonage delivery receipt unsigned, forged or stale: refused");
        return Ok(reply::empty(StatusCode::FORBIDDEN));
    }
    // Signed but not a final status (accepted, buffered): nothing to do.
    if let Some(report) = dlr::vonage_report(&params) {
        let code = params
            .iter()
            .find(|(k, _)| k == "err-code")
            .map(|(_, v)| v.as_str());
        settle(own, "vonage", &report, code).await;
    }
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

/// A Vonage webhook's parameters: the query of a GET, the form or the
/// (flat) JSON object of a POST, as Vonage's dashboard setting chooses.
async fn vonage_params(req: Request<Incoming>) -> Result<Vec<(String, String)>, GatewayError> {
    if req.method() == Method::GET {
        let q = req.uri().query().unwrap_or("");
        return Ok(form_urlencoded::parse(q.as_bytes()).into_owned().collect());
    }
    if !content_type(&req).starts_with("application/json") {
        return Ok(Form::read(req).await?.1.pairs().to_vec());
    }
    let (_, body) = read_json(req).await?;
    let obj = body.as_object().ok_or(GatewayError::BadBody)?;
    obj.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
            serde_json::Value::Number(n) => Ok((k.clone(), n.to_string())),
            _ => Err(GatewayError::BadBody),
        })
        .collect()
}
