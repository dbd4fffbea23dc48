-- Plans that stay right on a fresh, never-analysed PostgreSQL database (docs/coordinator.md,
-- "Indexes and claims"). On an empty table every index costs the same, so a generic plan
-- may pick any index whose leading column appears in the WHERE clause.
--
-- 1. The guarded state update (`WHERE id = $n AND state = $m`) tied between the primary
--    key and `settlements_state (state, updated_at)` and took the latter. No index leads
--    with `state` any more: the worker's queues are partial indexes whose predicates name
--    the states as literals (a parameterised `state = $m` can never use them), and the
--    stuck-settlement report reads `settlements_updated`.
DROP INDEX settlements_state;
CREATE INDEX settlements_updated ON settlements (updated_at);

-- 2. Work claims: a settlement the worker is processing is leased until this time (unix
--    ms), so several coordinators on one database never run the same step; 0 = free.
ALTER TABLE settlements ADD COLUMN worker_lease_until BIGINT NOT NULL DEFAULT 0;
-- Settlements waiting for screening, oldest first.
CREATE INDEX settlements_screening_queue ON settlements (created_at)
    WHERE state IN ('INSTRUCTED', 'COMPLIANCE_CHECKING') AND compliance IS NULL;
-- Cleared settlements not yet handed to the registrar, oldest first.
CREATE INDEX settlements_registrar_queue ON settlements (created_at)
    WHERE state = 'COMPLIANCE_CLEARED' AND registrar_notified_at IS NULL;

-- 3. The idempotency lookup (`WHERE platform_id = $1 AND idempotency_key = $2`) tied
--    between the table's UNIQUE (platform_id, idempotency_key) and `instructions_platform
--    (platform_id, created_at)` and took the latter. Of indexes that cost the same,
--    PostgreSQL keeps the one created last, so the lookup gets its own unique index on
--    exactly its key, created after every other index that leads with `platform_id`
--    (a later migration adding such an index must recreate this one after it; the
--    PostgreSQL plan test fails otherwise).
CREATE UNIQUE INDEX instructions_idempotency ON instructions (platform_id, idempotency_key);
