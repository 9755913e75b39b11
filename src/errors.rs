//! The one place where a failure becomes an HTTP answer.

use http::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use http::{Response, StatusCode};

use crate::body::Body;
use crate::headers::own_response;
use crate::money::AmountProblem;
use crate::normalize::PathError;
use crate::pages::{LangHint, Pages};

/// How a refusal is answered: JSON for a script, or a page in the
/// shopper's language (`Accept-Language`, the language cookie) with the
/// brand's style for a browser.
#[derive(Clone, Copy)]
pub enum Answer<'a> {
    Json,
    Page(&'a Pages, &'a LangHint),
}

impl<'a> Answer<'a> {
    pub fn new(json: bool, pages: &'a Pages, hint: &'a LangHint) -> Answer<'a> {
        if json {
            Answer::Json
        } else {
            Answer::Page(pages, hint)
        }
    }
}

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

    /// The page's text (a key of `pages/strings/*.toml`, so it is shown
    /// in the shopper's language and an operator may reword it) and its
    /// one placeholder. The JSON answer keeps the English `Display`.
    fn page_text(&self) -> (&'static str, Option<(&'static str, String)>) {
        let key = match self {
            GatewayError::BadPath(_)
            | GatewayError::ForeignAuthority
            | GatewayError::BadTarget
            | GatewayError::BadBody => "refused_bad_request",
            GatewayError::OtpRequired { .. } => "error_not_signed_in",
            GatewayError::Csrf => "refused_csrf",
            GatewayError::BodyTimeout => "refused_request_timeout",
            GatewayError::HeldTooLarge { max_body } => {
                let kib = max_body.div_ceil(1024).to_string();
                return ("refused_payload_too_large", Some(("kib", kib)));
            }
            GatewayError::BadAmount(AmountProblem::Missing) => "refused_amount_missing",
            GatewayError::BadAmount(AmountProblem::Malformed) => "refused_amount_malformed",
            GatewayError::BadAmount(AmountProblem::Ambiguous) => "refused_amount_ambiguous",
            GatewayError::BadAmount(AmountProblem::Unreadable) => "refused_amount_unreadable",
            GatewayError::NotFound => "refused_not_found",
            GatewayError::MethodNotAllowed => "refused_method_not_allowed",
            GatewayError::UpstreamConnect | GatewayError::UpstreamProtocol => "refused_bad_gateway",
            GatewayError::UpstreamTimeout => "refused_gateway_timeout",
            GatewayError::Internal => "error_unavailable",
        };
        (key, None)
    }

    /// A small JSON answer or HTML page, by what the client accepts.
    pub fn into_response(self, answer: Answer<'_>) -> Response<Body> {
        if let (GatewayError::OtpRequired { login_url }, Answer::Page(..)) = (&self, answer) {
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
        if let GatewayError::BodyTimeout | GatewayError::HeldTooLarge { .. } = &self {
            // The rest of the body may still be on its way (too slow, or
            // refused before it was read): the connection cannot be reused
            // (RFC 9110 §15.5.9, §15.5.14).
            builder = builder.header(http::header::CONNECTION, "close");
        }
        let body = match answer {
            Answer::Json => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                let mut v =
                    serde_json::json!({ "error": self.code(), "message": self.to_string() });
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
            }
            Answer::Page(pages, hint) => {
                builder = builder
                    .header(CONTENT_TYPE, "text/html; charset=utf-8")
                    .header("content-security-policy", crate::pages::ERROR_CSP.clone());
                let (key, arg) = self.page_text();
                let args: Vec<(&str, &str)> = arg.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let lang = pages.language_for(hint);
                pages.error_in(&lang, status, &pages.text(&lang, key, &args))
            }
        };
        builder
            .body(Body::full(body))
            .expect("static parts are valid")
    }
}
