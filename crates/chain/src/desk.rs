//! The chain side's [`PacketDesk`]: the operator's view of `lz_packets` over the
//! [`ChainStore`], with each packet's message kind and on-chain settlement id decoded from
//! its stored bytes (`kind ‖ abi.encode(terms)`, `SettlementMsgCodec`); and the
//! [`DepositLog`]: a settlement's confirmed `LegDeposited` logs.

use crate::lz::codec::Packet;
use crate::store::{ChainStore, StoredPacket};
use alloy::sol_types::SolValue;
use async_trait::async_trait;
use lockstep_bindings::ISettlementEscrow::Terms;
use lockstep_core::{
    DepositLog, DepositLogError, MessageKind, ObservedDeposit, PacketDesk, PacketDeskError,
    PacketFilter, PacketRecord, RetryOutcome,
};

/// The record of a stored packet, with what its message says filled in when it decodes.
fn decoded(p: StoredPacket) -> PacketRecord {
    let mut record = p.record;
    let packet = alloy::hex::decode(&p.packet)
        .ok()
        .and_then(|b| Packet::parse(&b).ok());
    if let Some((first, terms)) = packet.as_ref().and_then(|p| p.message.split_first()) {
        record.kind = MessageKind::from_byte(*first);
        record.onchain_settlement_id = Terms::abi_decode(terms)
            .ok()
            .map(|t| format!("{:#x}", t.settlementId));
    }
    record
}

fn failed(e: crate::ChainError) -> PacketDeskError {
    PacketDeskError(Box::new(e))
}

#[async_trait]
impl PacketDesk for ChainStore {
    async fn list(
        &self,
        filter: &PacketFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<PacketRecord>, i64), PacketDeskError> {
        let (rows, total) = self
            .find_packets(filter, limit, offset)
            .await
            .map_err(failed)?;
        Ok((rows.into_iter().map(decoded).collect(), total))
    }

    async fn get(&self, guid: &str) -> Result<Option<PacketRecord>, PacketDeskError> {
        Ok(self.find_packet(guid).await.map_err(failed)?.map(decoded))
    }

    async fn retry_now(&self, guid: &str) -> Result<RetryOutcome, PacketDeskError> {
        let scheduled = self.retry_packet_now(guid).await.map_err(failed)?;
        let Some(p) = self.find_packet(guid).await.map_err(failed)? else {
            return Ok(RetryOutcome::NotFound);
        };
        let record = Box::new(decoded(p));
        Ok(if scheduled || record.status.is_open() {
            tracing::info!(guid = %record.guid, status = %record.status, "operator forced a packet retry");
            RetryOutcome::Scheduled(record)
        } else {
            RetryOutcome::Closed(record)
        })
    }

    async fn stale(
        &self,
        before_ms: i64,
        limit: i64,
    ) -> Result<Vec<PacketRecord>, PacketDeskError> {
        let rows = self.stale_packets(before_ms, limit).await.map_err(failed)?;
        Ok(rows.into_iter().map(decoded).collect())
    }
}

#[async_trait]
impl DepositLog for ChainStore {
    async fn deposits(&self, onchain_id: &str) -> Result<Vec<ObservedDeposit>, DepositLogError> {
        let Ok(key) = onchain_id.parse::<alloy::primitives::B256>() else {
            return Ok(Vec::new());
        };
        let logs = self
            .logs_by_key(key)
            .await
            .map_err(|e| DepositLogError(Box::new(e)))?;
        let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
        // Stored lowercase; shown with the EIP-55 checksum like every address of the API.
        let address = |v: &serde_json::Value, k: &str| {
            let raw = text(v, k);
            raw.parse::<alloy::primitives::Address>()
                .map_or(raw, |a| a.to_checksum(None))
        };
        Ok(logs
            .into_iter()
            .filter(|l| l.event == "LegDeposited")
            .map(|l| ObservedDeposit {
                chain_id: l.chain_id,
                leg_index: text(&l.fields, "legIndex").parse().unwrap_or(u64::MAX),
                depositor: address(&l.fields, "depositor"),
                token: address(&l.fields, "token"),
                amount: text(&l.fields, "amount"),
                tx_hash: l.tx_hash,
                block_number: l.block_number,
                block_timestamp: l.block_timestamp,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloy::primitives::B256;
    use lockstep_core::PacketStatus;

    fn stored(packet: String) -> StoredPacket {
        StoredPacket {
            record: PacketRecord {
                guid: "0x01".into(),
                src_chain_id: 1,
                src_eid: 1,
                dst_eid: 2,
                nonce: 1,
                kind: None,
                onchain_settlement_id: None,
                status: PacketStatus::Pending,
                attempts: 0,
                last_error: None,
                next_attempt_at: 0,
                blocked_on_nonce: None,
                blocked_since: None,
                delivered_tx_hash: None,
                created_at: 0,
                updated_at: 0,
            },
            packet,
        }
    }

    #[test]
    fn decodes_kind_and_settlement_id_and_tolerates_garbage() {
        let terms = Terms {
            settlementId: B256::repeat_byte(0xab),
            hubEid: 1,
            timeoutAt: 2,
            decisionRef: B256::ZERO,
            legs: Vec::new(),
        };
        let mut bytes = vec![1u8];
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&[0; 4 + 32 + 4 + 32 + 32]);
        bytes.push(2);
        bytes.extend_from_slice(&terms.abi_encode());
        let r = decoded(stored(alloy::hex::encode_prefixed(&bytes)));
        assert_eq!(r.kind, Some(MessageKind::Release));
        assert_eq!(
            r.onchain_settlement_id.as_deref(),
            Some(format!("{:#x}", B256::repeat_byte(0xab)).as_str())
        );
        let r = decoded(stored(String::new()));
        assert_eq!((r.kind, r.onchain_settlement_id), (None, None));
    }
}
