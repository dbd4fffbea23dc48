-- The chain side's tables, owned by lockstep-chain (docs/chain.md): what the indexer read
-- from each chain, and the relayer's packets. Everything here is a cache of the chains.
-- Version 1001 keeps clear of the coordinator's migrations in the shared _sqlx_migrations
-- table. IF NOT EXISTS: databases created by the previous schema (where these tables were
-- the coordinator's 0002_chain.sql) already have them.

-- Per chain: the last block indexed (confirmed: at most head - confirmations).
CREATE TABLE IF NOT EXISTS chain_cursors (
    chain_id BIGINT PRIMARY KEY,
    block_number BIGINT NOT NULL,
    block_hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Hashes of the indexed blocks that held a log we kept, plus every cursor block:
-- compared with the chain to detect reorgs.
CREATE TABLE IF NOT EXISTS chain_blocks (
    chain_id BIGINT NOT NULL,
    block_number BIGINT NOT NULL,
    block_hash TEXT NOT NULL,
    block_timestamp BIGINT NOT NULL,
    PRIMARY KEY (chain_id, block_number)
);
-- Decoded escrow and endpoint logs. `settlement_key` is the on-chain settlementId (escrow
-- events) or the packet guid (PacketSent); `fields` is the decoded event as JSON.
CREATE TABLE IF NOT EXISTS chain_logs (
    chain_id BIGINT NOT NULL,
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    block_hash TEXT NOT NULL,
    block_timestamp BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    address TEXT NOT NULL,
    event TEXT NOT NULL,
    settlement_key TEXT NOT NULL,
    fields TEXT NOT NULL,
    indexed_at BIGINT NOT NULL,
    PRIMARY KEY (chain_id, block_number, log_index)
);
CREATE INDEX IF NOT EXISTS chain_logs_by_key ON chain_logs (settlement_key);
CREATE INDEX IF NOT EXISTS chain_logs_by_event ON chain_logs (event);
-- One row per LayerZero packet the relayer delivers.
-- state: pending -> verified -> committed -> delivered | failed (attempts exhausted).
CREATE TABLE IF NOT EXISTS lz_packets (
    guid TEXT PRIMARY KEY,
    src_chain_id BIGINT NOT NULL,
    src_eid BIGINT NOT NULL,
    dst_eid BIGINT NOT NULL,
    sender TEXT NOT NULL,
    receiver TEXT NOT NULL,
    nonce BIGINT NOT NULL,
    packet TEXT NOT NULL,
    src_tx_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    last_error TEXT,
    next_attempt_at BIGINT NOT NULL,
    delivered_tx_hash TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS lz_packets_due ON lz_packets (state, next_attempt_at);
