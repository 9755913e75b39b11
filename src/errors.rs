//! The one place where a failure becomes an HTTP answer.

use http::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use http::{Response, StatusCode};

use crate::body::Body;
use crate::headers::own_response;
use crate::normalize::PathError;

/// Why otpgate answered itself instead of forwarding.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("bad request path: {0}")]
    BadPath(#[from] PathError),
    #[error("request target names another host")]
    ForeignAuthority,
    #[error("unsupported request target")]
    BadTarget,
    #[error("a verified phone is required")]
    OtpRequired { login_url: String },
    #[error("form expired or forged (CSRF check failed)")]
    Csrf,
    #[error("request body too large or malformed")]
    BadBody,
    /// The client sent its body too slowly (server.body_timeout,
    /// server.body_min_rate): slow-POST denial of service.
    #[error("request body too slow")]
    BodyTimeout,
    /// A protected request too large to keep while the shopper verifies
    /// (`[hold] max_body`): refused whole, nothing forwarded.
    #[error("This request is too large to keep while you confirm your phone number (the limit is {} KiB). Nothing was sent; please go back and try again with less data.", .max_body.div_ceil(1024))]
    HeldTooLarge { max_body: usize },
    /// A transaction route's request whose amount cannot be read
    /// (`amount_field`): never a code for an amount nobody was shown.
    #[error("{0}, so no code was sent and nothing was placed. Please go back and try again; if it happens again, contact the shop.")]
    BadAmount(crate::money::AmountProblem),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("upstream unreachable")]
    UpstreamConnect,
    #[error("upstream timed out")]
    UpstreamTimeout,
    #[error("upstream failed")]
    UpstreamProtocol,
    #[error("internal error")]
    Internal,
}

impl GatewayError {
    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::BadPath(_)
            | GatewayError::ForeignAuthority
            | GatewayError::BadTarget
            | GatewayError::BadBody
            | GatewayError::BadAmount(_) => StatusCode::BAD_REQUEST,
            GatewayError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            GatewayError::HeldTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::OtpRequired { .. } => StatusCode::UNAUTHORIZED,
            GatewayError::Csrf => StatusCode::FORBIDDEN,
            GatewayError::NotFound => StatusCode::NOT_FOUND,
            GatewayError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::UpstreamConnect | GatewayError::UpstreamProtocol => {
                StatusCode::BAD_GATEWAY
            }
            GatewayError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable machine-readable code for JSON answers (docs/api.md).
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::BadPath(_) => "bad_path",
            GatewayError::ForeignAuthority | GatewayError::BadTarget => "bad_target",
            GatewayError::OtpRequired { .. } => "otp_required",
            GatewayError::Csrf => "csrf",
            GatewayError::BadBody => "bad_request",
            GatewayError::BodyTimeout => "request_timeout",
            GatewayError::HeldTooLarge { .. } => "payload_too_large",
            GatewayError::BadAmount(_) => "bad_amount",
            GatewayError::NotFound => "not_found",
            GatewayError::MethodNotAllowed => "method_not_allowed",
            GatewayError::UpstreamConnect | GatewayError::UpstreamProtocol => "bad_gateway",
            GatewayError::UpstreamTimeout => "gateway_timeout",
            GatewayError::Internal => "internal",
        }
    }

    /// A small JSON or HTML answer, by what the client accepts.
    pub fn into_response(self, json: bool) -> Response<Body> {
        if let (GatewayError::OtpRequired { login_url }, false) = (&self, json) {
            // A browser navigation: straight to the login page.
            return own_response(StatusCode::FOUND)
                .header(
                    LOCATION,
                    HeaderValue::from_str(login_url)
                        .unwrap_or(HeaderValue::from_static(crate::redirect::LOGIN)),
                )
                .body(Body::empty())
                .expect("static parts are valid");
        }
        let status = self.status();
        let mut builder = own_response(status);
        if let GatewayError::BodyTimeout = &self {
            // The rest of the body may still be on its way: the connection
            // cannot be reused (RFC 9110 §15.5.9).
            builder = builder.header(http::header::CONNECTION, "close");
        }
        let body = if json {
            builder = builder.header(CONTENT_TYPE, "application/json");
            let mut v = serde_json::json!({ "error": self.code(), "message": self.to_string() });
            if let GatewayError::OtpRequired { login_url } = &self {
                v["login_url"] = login_url.as_str().into();
            }
            if let GatewayError::HeldTooLarge { max_body } = &self {
                v["max_body"] = (*max_body).into();
            }
            if let GatewayError::BadAmount(problem) = &self {
                v["reason"] = problem.reason().into();
            }
            v.to_string()
        } else {
            builder = builder
                .header(CONTENT_TYPE, "text/html; charset=utf-8")
                .header("content-security-policy", crate::pages::ERROR_CSP.clone());
            crate::pages::error_page(status, &self.to_string())
        };
        builder
            .body(Body::full(body))
            .expect("static parts are valid")
    }
}
