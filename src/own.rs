//! `/.otpgate/*`: otpgate's own endpoints, answered here and never
//! forwarded. This file is the route table; the endpoints live beside it
//! (forms.rs, api.rs, forward_auth.rs, twilio_status.rs, receipts.rs) and share the
//! request readers (input.rs), answer builders (reply.rs), the pending
//! cookie (pending.rs), the post/redirect/get flash (flash.rs) and their
//! state (state.rs). Every form post answers `303` to a page. The OTP steps they call
//! are in `flow`, which knows nothing of HTTP. A protected POST without a
//! session is kept here too (held.rs, sealed.rs; where it came from:
//! origin.rs; a transaction route's amount and code binding: confirm.rs,
//! amount.rs) and handed back to the
//! gateway to send after the code.

mod amount;
mod api;
mod confirm;
mod csrf;
mod fallback;
pub mod flash;
mod forms;
mod forward_auth;
mod held;
mod input;
mod logout;
mod navigation;
mod origin;
mod pending;
mod pow;
mod receipts;
mod reply;
mod sealed;
mod state;
mod twilio_status;

use http::{Method, Request, Response};
use hyper::body::Incoming;

pub use self::held::{hold, holds, Replay};
pub use self::sealed::{HeldRequest, Sealer};
pub use self::state::Own;
use crate::body::Body;
use crate::conn::ConnInfo;
use crate::errors::GatewayError;
use crate::normalize::NormalizedPath;

pub async fn handle(
    own: &Own,
    req: Request<Incoming>,
    conn: ConnInfo,
    path: &NormalizedPath,
) -> Result<Response<Body>, GatewayError> {
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    let post = req.method() == Method::POST;
    match path.match_key() {
        "/.otpgate/login" if get => forms::login_page(own, &req, conn).await,
        "/.otpgate/send" if post => forms::send(own, req, conn).await,
        "/.otpgate/verify" if get => forms::verify_page(own, &req, conn).await,
        "/.otpgate/verify" if post => forms::verify(own, req, conn).await,
        "/.otpgate/resend" if post => forms::resend(own, req, conn).await,
        "/.otpgate/logout" if post => logout::logout(own, req, conn).await,
        "/.otpgate/logout" if get => logout::page(own, &req).await,
        "/.otpgate/api/send" if post => api::send(own, req, conn).await,
        "/.otpgate/api/verify" if post => api::verify(own, req, conn).await,
        "/.otpgate/api/resend" if post => api::resend(own, req, conn).await,
        "/.otpgate/api/session" if get => api::session(own, &req).await,
        "/.otpgate/auth" => forward_auth::check(own, &req, conn).await,
        "/.otpgate/sms/twilio/status" if post => twilio_status::twilio_status(own, req).await,
        "/.otpgate/sms/msg91/dlr" if post => receipts::msg91(own, req).await,
        "/.otpgate/sms/vonage/dlr" if get || post => receipts::vonage(own, req).await,
        "/.otpgate/login"
        | "/.otpgate/send"
        | "/.otpgate/verify"
        | "/.otpgate/resend"
        | "/.otpgate/logout"
        | "/.otpgate/api/send"
        | "/.otpgate/api/verify"
        | "/.otpgate/api/resend"
        | "/.otpgate/api/session" => Err(GatewayError::MethodNotAllowed),
        _ => Err(GatewayError::NotFound),
    }
}
