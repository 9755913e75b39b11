//! `POST /.otpgate/sms/twilio/status`: Twilio's delivery receipts
//! (`StatusCallback` of messages and of calls). Only requests signed with the account's auth token
//! (`X-Twilio-Signature` over the configured callback URL and the form)
//! are counted; anything else is 403.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::input::Form;
use super::reply;
use super::state::Own;
use crate::body::Body;
use crate::errors::GatewayError;

pub async fn twilio_status(
    own: &Own,
    req: Request<Incoming>,
) -> Result<Response<Body>, GatewayError> {
    // The URL Twilio signed is the one we told it: `status_callback`.
    if own.twilio_status.is_empty() {
        return Err(GatewayError::NotFound);
    }
    let signature = req
        .headers()
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (_, form) = Form::read(req).await?;
    // SMS, WhatsApp and voice may be different accounts: any one of them.
    let signed = own.twilio_status.iter().any(|(token, url)| {
        crate::sms::twilio_signature_valid(token.expose(), url, form.pairs(), &signature)
    });
    if !signed {
        tracing::warn!("Twilio status callback with a bad signature refused");
        return Ok(reply::empty(StatusCode::FORBIDDEN));
    }
    let status = crate::sms::record_twilio_status(own.flow.sms.metrics(), form.pairs());
    // A signed failed/undelivered receipt for one of our codes (a message,
    // or a call that was busy, unanswered, failed or canceled): the code
    // page offers the next channel at once (flow/channels.rs); a
    // delivered one: the quiet `fallback_after` no longer offers one.
    let sid = form
        .pairs()
        .iter()
        .find(|(k, _)| k == "MessageSid" || k == "CallSid")
        .map(|(_, v)| v.as_str());
    if let (Some(status), Some(sid)) = (status, sid) {
        super::receipts::settle_counted(own, sid, status).await;
    }
    Ok(reply::empty(StatusCode::NO_CONTENT))
}
