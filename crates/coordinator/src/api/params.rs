//! Unknown query parameters are refused with 400 on every operation
//! (docs/coordinator.md, "Query parameters"). The parameters an operation accepts are read
//! from the OpenAPI document, so what is documented is exactly what is accepted.

use super::support::ApiError;
use axum::extract::{MatchedPath, Query, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use utoipa::openapi::path::ParameterIn;

/// The query parameters each operation (method, path template) accepts.
#[derive(Debug, Default)]
pub(super) struct QueryParams(HashMap<(Method, String), HashSet<String>>);

impl QueryParams {
    /// Reads every operation's `in: query` parameters.
    pub(super) fn from_openapi(doc: &utoipa::openapi::OpenApi) -> QueryParams {
        let mut map = HashMap::new();
        for (path, item) in &doc.paths.paths {
            let ops = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ];
            for (method, op) in ops {
                let Some(op) = op else { continue };
                let names = op
                    .parameters
                    .iter()
                    .flatten()
                    .filter(|p| p.parameter_in == ParameterIn::Query)
                    .map(|p| p.name.clone())
                    .collect();
                map.insert((method, path.clone()), names);
            }
        }
        QueryParams(map)
    }

    /// The first query parameter of `req` that its documented operation does not accept.
    fn unknown(&self, req: &Request) -> Result<Option<String>, ApiError> {
        if req.uri().query().is_none_or(str::is_empty) {
            return Ok(None);
        }
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(req.uri())
            .map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, r.body_text()))?;
        // An undocumented method or path is the router's to answer (405, 404).
        let Some(accepted) = req
            .extensions()
            .get::<MatchedPath>()
            .and_then(|p| self.0.get(&(req.method().clone(), p.as_str().to_string())))
        else {
            return Ok(None);
        };
        Ok(pairs
            .into_iter()
            .map(|(k, _)| k)
            .find(|k| !accepted.contains(k)))
    }
}

/// Refuses a request with a query parameter its operation does not document (400).
pub(super) async fn refuse_unknown(
    axum::extract::State(params): axum::extract::State<Arc<QueryParams>>,
    req: Request,
    next: Next,
) -> Response {
    match params.unknown(&req) {
        Ok(None) => next.run(req).await,
        Ok(Some(name)) => ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("unknown query parameter {name:?}"),
        )
        .into_response(),
        Err(e) => e.into_response(),
    }
}
