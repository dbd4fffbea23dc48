-- Webhooks: every replaced secret keeps signing for its own overlap window (one row per
-- live previous secret instead of a single previous_secret column), and a delivery's
-- retry round (attempts made before the current round; a redeliver/recover starts a
-- fresh retry schedule at the current attempt count).
CREATE TABLE webhook_previous_secrets (
    endpoint_id TEXT NOT NULL,
    platform_id TEXT NOT NULL,
    secret TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (endpoint_id, secret)
);
INSERT INTO webhook_previous_secrets (endpoint_id, platform_id, secret, expires_at)
    SELECT id, platform_id, previous_secret, previous_secret_expires_at FROM webhook_endpoints
    WHERE previous_secret IS NOT NULL AND previous_secret_expires_at IS NOT NULL;
ALTER TABLE webhook_endpoints DROP COLUMN previous_secret;
ALTER TABLE webhook_endpoints DROP COLUMN previous_secret_expires_at;
ALTER TABLE webhook_deliveries ADD COLUMN round_start BIGINT NOT NULL DEFAULT 0;
