-- The settlement a webhook event is about (NULL for events that are not, such as
-- test.ping, and for events written before this migration), so a settlement's deliveries
-- are read without parsing payloads (GET /v1/settlements/{id}/webhook-deliveries).
ALTER TABLE webhook_events ADD COLUMN settlement_id TEXT;
CREATE INDEX webhook_events_settlement ON webhook_events (settlement_id);
