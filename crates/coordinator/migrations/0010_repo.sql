-- Tokenised repo (docs/coordinator.md, "Repo"). A repo opening fixes its close when it
-- is created: `closing_terms` (JSON, the close's parties, reversed legs with the
-- repayment as cash, window) and `closing_terms_ref` (`sha256:<hex>` of their JCS form,
-- bound into the opening's decision evidence); `repo_maturity_at` (unix ms) and
-- `repo_status` (`open`, `closing`, `closed`, `close_failed`). The close, registered once
-- the opening is FINALIZED and maturity has passed, names its opening in
-- `parent_settlement_id`; the opening names it in `closing_settlement_id`. All NULL for
-- other settlements.
ALTER TABLE settlements ADD COLUMN parent_settlement_id TEXT;
ALTER TABLE settlements ADD COLUMN closing_settlement_id TEXT;
ALTER TABLE settlements ADD COLUMN repo_status TEXT;
ALTER TABLE settlements ADD COLUMN repo_maturity_at BIGINT;
ALTER TABLE settlements ADD COLUMN closing_terms TEXT;
ALTER TABLE settlements ADD COLUMN closing_terms_ref TEXT;
-- One close per opening, whoever registers it (both engines allow many NULLs).
CREATE UNIQUE INDEX settlements_parent ON settlements (parent_settlement_id);
-- The worker's queue of finalised repo openings whose close is not registered yet,
-- oldest first (its predicate is repeated word for word by the claim).
CREATE INDEX settlements_repo_close_queue ON settlements (created_at)
    WHERE state = 'FINALIZED' AND repo_status = 'open';
