-- Multi-party settlements (docs/coordinator.md, "Multi-party matching"). Every party of a
-- settlement, in the template's role order (position 0, 1, ...). Two-party settlements
-- keep their seller_* and buyer_* columns (positions 0 and 1 repeat them); a multi-party
-- settlement puts its first two roles there too, so every existing reader still sees two
-- parties, and the others here.
CREATE TABLE settlement_parties (
    settlement_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    role TEXT NOT NULL,
    platform_id TEXT NOT NULL,
    instruction_id TEXT NOT NULL,
    PRIMARY KEY (settlement_id, position)
);
-- Reads by a party's platform (settlement lists, the settled-reference check).
CREATE INDEX settlement_parties_platform ON settlement_parties (platform_id, settlement_id);
-- How many parties the settlement has; readers load settlement_parties only above 2.
ALTER TABLE settlements ADD COLUMN party_count BIGINT NOT NULL DEFAULT 2;
INSERT INTO settlement_parties (settlement_id, position, role, platform_id, instruction_id)
    SELECT id, 0, 'seller', seller_platform_id, seller_instruction_id FROM settlements;
INSERT INTO settlement_parties (settlement_id, position, role, platform_id, instruction_id)
    SELECT id, 1, 'buyer', buyer_platform_id, buyer_instruction_id FROM settlements;
