-- Legs an escrow could not pay and now owes to their beneficiary (escrow v2 LegOwed,
-- security.md R1), recorded once per settlement, chain and leg through the Ledger port.
-- Amounts are decimal strings; refund is 1 for a refund to the depositor, 0 for a release.
CREATE TABLE owed_legs (
    settlement_id TEXT NOT NULL,
    chain_id BIGINT NOT NULL,
    leg_index BIGINT NOT NULL,
    escrow TEXT NOT NULL,
    beneficiary TEXT NOT NULL,
    token TEXT NOT NULL,
    amount TEXT NOT NULL,
    refund BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (settlement_id, chain_id, leg_index)
);
