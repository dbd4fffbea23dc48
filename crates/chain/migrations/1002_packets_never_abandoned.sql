-- Packets are never abandoned (issue 12): a readable packet keeps retrying with capped
-- backoff until the destination shows it delivered, so the only terminal non-delivered
-- state is `unreadable` (a PacketSent the relayer cannot parse).
-- Rows the old relayer marked `failed` after 20 attempts go back to work (the next pass reads
-- the destination's state first, so nothing is repeated); the unreadable ones (queued with
-- an empty packet) get their own state.
UPDATE lz_packets SET state = 'unreadable' WHERE state = 'failed' AND packet = '';
UPDATE lz_packets SET state = 'pending', next_attempt_at = 0 WHERE state = 'failed';
-- The earlier nonce of the path a packet waits for, and since when (NULL when not blocked):
-- logged at warning level, counted in the metrics and listed by the operator endpoint.
ALTER TABLE lz_packets ADD COLUMN blocked_on_nonce BIGINT;
ALTER TABLE lz_packets ADD COLUMN blocked_since BIGINT;
