//! `POST /.otpgate/sms/twilio/status`: Twilio's delivery receipts
//! (`StatusCallback`). Only requests signed with the account's auth token
//! (`X-Twilio-Signature` over the configured callback URL and the form)
//! are counted; anything else is 403.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::Body;
use crate::errors::GatewayError;
use crate::flow::{own_response, Form};
use crate::gateway::Gateway;
use crate::sms::ProviderConfig;

pub async fn twilio_status(
    gw: &Gateway,
    req: Request<Incoming>,
) -> Result<Response<Body>, GatewayError> {
    // The URL Twilio signed is the one we told it: `status_callback`.
    let Some((token, url)) = gw.cfg.sms.chain.iter().find_map(|p| match p {
        ProviderConfig::Twilio(t) => Some((t.auth_token.clone()?, t.status_callback.clone()?)),
        _ => None,
    }) else {
        return Err(GatewayError::NotFound);
    };
    let signature = req
        .headers()
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (_, form) = Form::read(req).await?;
    if !crate::sms::twilio_signature_valid(token.expose(), &url, form.pairs(), &signature) {
        tracing::warn!("Twilio status callback with a bad signature refused");
        return Ok(own_response(StatusCode::FORBIDDEN)
            .body(Body::empty())
            .expect("valid response"));
    }
    crate::sms::record_twilio_status(gw.sms.metrics(), form.pairs());
    Ok(own_response(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .expect("valid response"))
}
