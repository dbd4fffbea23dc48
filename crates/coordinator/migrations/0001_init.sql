-- Portable DDL: the same statements run on SQLite and PostgreSQL.
-- Times are unix milliseconds (BIGINT); JSON documents are TEXT.
CREATE TABLE platforms (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    platform_id TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE instructions (
    id TEXT PRIMARY KEY,
    platform_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response_body TEXT NOT NULL,
    template_slug TEXT NOT NULL,
    role TEXT NOT NULL,
    trade_reference TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    settlement_id TEXT,
    match_failure TEXT,
    timeout_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (platform_id, idempotency_key)
);
CREATE INDEX instructions_trade_reference ON instructions (trade_reference);
CREATE INDEX instructions_platform ON instructions (platform_id, created_at);
CREATE INDEX instructions_status_expiry ON instructions (status, expires_at);
CREATE TABLE settlements (
    id TEXT PRIMARY KEY,
    trade_reference TEXT NOT NULL UNIQUE,
    template_slug TEXT NOT NULL,
    state TEXT NOT NULL,
    seller_instruction_id TEXT NOT NULL,
    buyer_instruction_id TEXT NOT NULL,
    seller_platform_id TEXT NOT NULL,
    buyer_platform_id TEXT NOT NULL,
    timeout_at BIGINT NOT NULL,
    compliance TEXT,
    decision_ref TEXT,
    evidence TEXT,
    terms TEXT,
    terms_hash TEXT,
    attestations TEXT,
    deposit_secrets TEXT,
    registrar_notified_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX settlements_state ON settlements (state, updated_at);
CREATE INDEX settlements_seller ON settlements (seller_platform_id);
CREATE INDEX settlements_buyer ON settlements (buyer_platform_id);
CREATE TABLE settlement_events (
    settlement_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    cause TEXT NOT NULL,
    at BIGINT NOT NULL,
    prev_hash TEXT,
    hash TEXT NOT NULL,
    PRIMARY KEY (settlement_id, seq)
);
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    platform_id TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT,
    enabled BIGINT NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_platform ON webhook_endpoints (platform_id);
CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    platform_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    platform_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    last_status_code BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);
CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    status_code BIGINT,
    error TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);
