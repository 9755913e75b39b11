//! Reading what a shopper or provider posts to otpgate itself: always
//! small (capped with `Limited`, paced against slow-POST), always parsed
//! by one reader per format.

use http::header::CONTENT_TYPE;
use http::Request;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::body::BoxError;
use crate::errors::GatewayError;

/// The largest form or JSON body otpgate reads itself.
const MAX_FORM_BYTES: usize = 8 * 1024;

/// Reads a small body, refusing anything over [`MAX_FORM_BYTES`].
async fn read_small(
    req: Request<Incoming>,
) -> Result<(http::request::Parts, bytes::Bytes), GatewayError> {
    let (parts, body) = req.into_parts();
    let body = crate::body::Paced::new(body, crate::body::BodyPace::of(&parts.extensions));
    let bytes = Limited::new(body, MAX_FORM_BYTES)
        .collect()
        .await
        .map_err(read_error)?
        .to_bytes();
    Ok((parts, bytes))
}

/// A form post's fields (first value of each name).
pub struct Form(Vec<(String, String)>);

impl Form {
    pub async fn read(
        req: Request<Incoming>,
    ) -> Result<(http::request::Parts, Form), GatewayError> {
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(GatewayError::BadBody);
        }
        let (parts, bytes) = read_small(req).await?;
        Ok((
            parts,
            Form(form_urlencoded::parse(&bytes).into_owned().collect()),
        ))
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub async fn read_json(
    req: Request<Incoming>,
) -> Result<(http::request::Parts, serde_json::Value), GatewayError> {
    let (parts, bytes) = read_small(req).await?;
    let v = serde_json::from_slice(&bytes).map_err(|_| GatewayError::BadBody)?;
    Ok((parts, v))
}

/// The answer to a body otpgate could not read itself: 408 when the
/// client was too slow, else 400.
fn read_error(e: BoxError) -> GatewayError {
    if crate::body::is_too_slow(&*e) {
        GatewayError::BodyTimeout
    } else {
        GatewayError::BadBody
    }
}

/// The first value of query parameter `name`.
pub fn query_param<B>(req: &Request<B>, name: &str) -> Option<String> {
    form_urlencoded::parse(req.uri().query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
