//! Turning handler return values into responses.

use kiwi_plugin_api::manifest::Response;
use serde::Serialize;

use crate::{Error, Json};

/// Converts a handler's return value into a [`Response`]. `request_id` is used
/// for error envelopes.
pub trait IntoResponse {
    fn into_response(self, request_id: &str) -> Response;
}

/// A JSON body with an explicit status, e.g. `Status(201, Json(x))`.
#[derive(Debug, Clone)]
pub struct Status<T>(pub u16, pub T);

fn json_response<T: Serialize>(status: u16, value: &T, request_id: &str) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => Response { status, headers: vec![("content-type".into(), "application/json".into())], body },
        Err(e) => Error::internal(format!("response serialization failed: {e}")).into_response(request_id),
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self, request_id: &str) -> Response {
        json_response(200, &self.0, request_id)
    }
}

impl<T: IntoResponse> IntoResponse for Status<T> {
    fn into_response(self, request_id: &str) -> Response {
        let mut r = self.1.into_response(request_id);
        r.status = self.0;
        r
    }
}

impl IntoResponse for Response {
    fn into_response(self, _: &str) -> Response {
        self
    }
}

impl IntoResponse for Error {
    fn into_response(self, request_id: &str) -> Response {
        let status = if (400..=599).contains(&self.status) { self.status } else { 500 };
        let body = serde_json::to_vec(&self.to_envelope(request_id)).unwrap_or_default();
        Response { status, headers: vec![("content-type".into(), "application/json".into())], body }
    }
}

impl IntoResponse for String {
    fn into_response(self, _: &str) -> Response {
        Response {
            status: 200,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: self.into_bytes(),
        }
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self, _: &str) -> Response {
        Response { status: 200, headers: vec![("content-type".into(), "application/octet-stream".into())], body: self }
    }
}

impl IntoResponse for () {
    fn into_response(self, _: &str) -> Response {
        Response { status: 204, headers: vec![], body: vec![] }
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self, request_id: &str) -> Response {
        match self {
            Ok(v) => v.into_response(request_id),
            Err(e) => e.into_response(request_id),
        }
    }
}
