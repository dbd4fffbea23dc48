-- The on-chain settlement id, keccak256(trade_reference) as 0x-hex, so the chain side finds a
-- settlement by the id its escrow events carry. Rows made before this migration are filled in
-- by lockstep_coordinator::migrate (keccak is not SQL).
ALTER TABLE settlements ADD COLUMN onchain_id TEXT;
CREATE INDEX settlements_by_onchain_id ON settlements (onchain_id);
