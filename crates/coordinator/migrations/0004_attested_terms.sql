-- The one term set the attester signed per on-chain settlement id (security.md R3): the
-- coordinator never signs a second, different term set for one id, across restarts and
-- instances. Written in the clearing transaction that stores the terms.
CREATE TABLE attested_terms (
    onchain_id TEXT PRIMARY KEY,
    terms_hash TEXT NOT NULL,
    settlement_id TEXT NOT NULL,
    attested_at BIGINT NOT NULL
);
