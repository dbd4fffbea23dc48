//! Completes the generated OpenAPI document with what every operation shares, so that it
//! lists every status the server can answer (docs/coordinator.md, "Status codes"): the
//! bearer scheme, and the error answers that come from the extractors and middleware
//! rather than from a handler (400 bad query, 401, 403 for a scope, 404 for a path with an
//! id, 408, 413, 415 for a body, 422 for a body or query values, 429, 503).

use utoipa::Modify;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, header::Header};

/// Adds the bearer scheme and the shared error answers.
pub(super) struct Completeness;

impl Modify for Completeness {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let has_id = path.contains('{');
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                complete(op, has_id);
            }
        }
    }
}

/// The shared answers of one operation (kept when the handler documents them itself).
fn complete(op: &mut Operation, has_id: bool) {
    let secured = op
        .security
        .as_ref()
        .is_none_or(|reqs| reqs.iter().any(|r| *r != SecurityRequirement::default()));
    let has_body = op.request_body.is_some();
    let has_query = op
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query);
    // Every secured operation checks a scope, except reading the public templates.
    let scoped = secured && !op.tags.iter().flatten().any(|t| t == "templates");
    let mut add = |status: &str, description: &str, headers: &[(&str, &str)]| {
        if op.responses.responses.contains_key(status) {
            return;
        }
        let mut r = ResponseBuilder::new()
            .description(description)
            .content("application/json", error_body());
        for (name, what) in headers {
            let mut h = Header::new(ObjectBuilder::new().schema_type(Type::String));
            h.description = Some((*what).to_string());
            r = r.header(*name, h);
        }
        op.responses
            .responses
            .insert(status.to_string(), RefOr::T(r.build()));
    };
    add(
        "400",
        "malformed request: unknown query parameter, bad query value, or unreadable body",
        &[],
    );
    if secured {
        add(
            "401",
            "missing, invalid or revoked bearer token",
            &[("WWW-Authenticate", "`Bearer`")],
        );
    }
    if scoped {
        add("403", "the token lacks the operation's scope", &[]);
    }
    if has_id {
        add("404", "not found (or not visible to this caller)", &[]);
    }
    add(
        "408",
        "the request body did not arrive within the body read timeout",
        &[],
    );
    add("413", "the request body exceeds the size limit", &[]);
    if has_body {
        add(
            "415",
            "the body is not `Content-Type: application/json`",
            &[],
        );
    }
    if has_body || has_query {
        add(
            "422",
            "a field or query value is invalid (out of range, unknown, or breaks a rule the schema cannot express)",
            &[],
        );
    }
    add(
        "429",
        "rate limit exceeded: per token, or per client address for requests without a valid token",
        &[("Retry-After", "seconds until a request is allowed again")],
    );
    add(
        "503",
        "the request was not answered within the request timeout",
        &[],
    );
}

fn error_body() -> Content {
    Content::new(Some(RefOr::<utoipa::openapi::schema::Schema>::Ref(
        Ref::from_schema_name("ErrorBody"),
    )))
}
