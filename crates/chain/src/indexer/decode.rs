//! Decoding of the logs the indexer keeps: the escrow's events (by Solidity name, keyed by
//! the on-chain settlement id) and the endpoint's `PacketSent` of packets the escrow sent
//! (keyed by the packet guid, read with the one packet codec).

use crate::lz::codec::PacketHeader;
use alloy::primitives::{Address, B256};
use alloy::sol_types::{SolEvent, SolEventInterface};
use lockstep_bindings::ILayerZeroEndpointV2::PacketSent;
use lockstep_bindings::ISettlementEscrow::ISettlementEscrowEvents as Ev;
use serde_json::{Value, json};

/// One decoded log, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLog {
    /// Event name (`LegDeposited`, `PacketSent`, ...).
    pub event: String,
    /// The on-chain settlement id (escrow events) or the packet guid (`PacketSent`).
    pub key: B256,
    /// The decoded parameters by Solidity name.
    pub fields: Value,
}

fn h(b: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(b.as_ref()))
}

/// An escrow event as stored: its Solidity name, its key and its decoded fields.
type Decoded = (&'static str, B256, Value);

/// Decodes an escrow log; `None` for events that concern no settlement (e.g. `AttesterSet`)
/// or that are not the escrow's.
pub fn decode_escrow_log(log: &alloy::primitives::Log) -> Option<StoredLog> {
    let ev = Ev::decode_log(log).ok()?.data;
    // Exhaustive on purpose: a new escrow event must be given a group (or ignored here).
    let (event, key, fields) = match ev {
        Ev::SettlementRegistered(_)
        | Ev::SettlementLocked(_)
        | Ev::SpokeLocked(_)
        | Ev::SettlementExecuted(_)
        | Ev::SettlementRefunded(_)
        | Ev::ForeignTermsAborted(_) => settlement_event(ev),
        Ev::LegDeposited(_) | Ev::LegReleased(_) | Ev::LegRefunded(_) | Ev::LegOwed(_) => {
            leg_event(ev)
        }
        Ev::MessageSent(_)
        | Ev::MessageDeferred(_)
        | Ev::MessageReceived(_)
        | Ev::MessageBuffered(_)
        | Ev::MessageIgnored(_) => message_event(ev),
        Ev::Claimed(_) | Ev::NativeOwed(_) => beneficiary_event(ev),
        Ev::AttesterSet(_) => None,
    }?;
    Some(StoredLog {
        event: event.into(),
        key,
        fields,
    })
}

/// A settlement-level event: registration, locks, execution, refund, foreign-terms abort.
fn settlement_event(ev: Ev) -> Option<Decoded> {
    Some(match ev {
        Ev::SettlementRegistered(e) => (
            "SettlementRegistered",
            e.settlementId,
            json!({"termsHash": h(e.termsHash), "hubEid": e.hubEid, "timeoutAt": e.timeoutAt.to_string(), "decisionRef": h(e.decisionRef)}),
        ),
        Ev::SettlementLocked(e) => (
            "SettlementLocked",
            e.settlementId,
            json!({"termsHash": h(e.termsHash)}),
        ),
        Ev::SpokeLocked(e) => (
            "SpokeLocked",
            e.settlementId,
            json!({"termsHash": h(e.termsHash), "spokeEid": e.spokeEid}),
        ),
        Ev::SettlementExecuted(e) => (
            "SettlementExecuted",
            e.settlementId,
            json!({"termsHash": h(e.termsHash), "decisionRef": h(e.decisionRef)}),
        ),
        Ev::SettlementRefunded(e) => (
            "SettlementRefunded",
            e.settlementId,
            json!({"termsHash": h(e.termsHash)}),
        ),
        Ev::ForeignTermsAborted(e) => (
            "ForeignTermsAborted",
            e.settlementId,
            json!({"termsHash": h(e.termsHash), "spokeEid": e.spokeEid}),
        ),
        _ => return None,
    })
}

/// A leg event: deposit, release, refund or a payout owed.
fn leg_event(ev: Ev) -> Option<Decoded> {
    Some(match ev {
        Ev::LegDeposited(e) => (
            "LegDeposited",
            e.settlementId,
            json!({"legIndex": e.legIndex.to_string(), "depositor": h(e.depositor), "token": h(e.token), "amount": e.amount.to_string()}),
        ),
        Ev::LegReleased(e) => (
            "LegReleased",
            e.settlementId,
            json!({"legIndex": e.legIndex.to_string(), "recipient": h(e.recipient), "token": h(e.token), "amount": e.amount.to_string()}),
        ),
        Ev::LegRefunded(e) => (
            "LegRefunded",
            e.settlementId,
            json!({"legIndex": e.legIndex.to_string(), "depositor": h(e.depositor), "token": h(e.token), "amount": e.amount.to_string()}),
        ),
        Ev::LegOwed(e) => (
            "LegOwed",
            e.settlementId,
            json!({"legIndex": e.legIndex.to_string(), "beneficiary": h(e.beneficiary), "token": h(e.token), "amount": e.amount.to_string(), "refund": e.refund}),
        ),
        _ => return None,
    })
}

/// A cross-chain message event.
fn message_event(ev: Ev) -> Option<Decoded> {
    Some(match ev {
        Ev::MessageSent(e) => (
            "MessageSent",
            e.settlementId,
            json!({"kind": e.kind, "dstEid": e.dstEid, "guid": h(e.guid), "nativeFee": e.nativeFee.to_string()}),
        ),
        Ev::MessageDeferred(e) => (
            "MessageDeferred",
            e.settlementId,
            json!({"kind": e.kind, "dstEid": e.dstEid, "requiredFee": e.requiredFee.to_string(), "providedFee": e.providedFee.to_string()}),
        ),
        Ev::MessageReceived(e) => (
            "MessageReceived",
            e.settlementId,
            json!({"kind": e.kind, "srcEid": e.srcEid, "guid": h(e.guid)}),
        ),
        Ev::MessageBuffered(e) => (
            "MessageBuffered",
            e.settlementId,
            json!({"kind": e.kind, "srcEid": e.srcEid, "termsHash": h(e.termsHash)}),
        ),
        Ev::MessageIgnored(e) => (
            "MessageIgnored",
            e.settlementId,
            json!({"kind": e.kind, "srcEid": e.srcEid, "state": e.state}),
        ),
        _ => return None,
    })
}

/// `Claimed` and `NativeOwed` concern a beneficiary, not a settlement: they are keyed by
/// the beneficiary's address (left-padded) so they stay queryable.
fn beneficiary_event(ev: Ev) -> Option<Decoded> {
    Some(match ev {
        Ev::Claimed(e) => (
            "Claimed",
            e.beneficiary.into_word(),
            json!({"token": h(e.token), "beneficiary": h(e.beneficiary), "to": h(e.to), "amount": e.amount.to_string()}),
        ),
        Ev::NativeOwed(e) => (
            "NativeOwed",
            e.beneficiary.into_word(),
            json!({"beneficiary": h(e.beneficiary), "amount": e.amount.to_string()}),
        ),
        _ => return None,
    })
}

/// Decodes an endpoint `PacketSent` whose packet was sent by `escrow`; the key is the guid.
pub fn decode_packet_sent(log: &alloy::primitives::Log, escrow: Address) -> Option<StoredLog> {
    let e = PacketSent::decode_log(log).ok()?.data;
    let p = &e.encodedPayload;
    let header = PacketHeader::read(p).ok()?;
    if !header.sent_by(escrow) {
        return None;
    }
    Some(StoredLog {
        event: "PacketSent".into(),
        key: header.guid,
        fields: json!({"encoded_packet": h(p), "options": h(&e.options), "send_library": h(e.sendLibrary)}),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloy::primitives::{Bytes, LogData, U256, address};
    use lockstep_bindings::ISettlementEscrow;

    #[test]
    fn decodes_escrow_events_by_solidity_name() {
        let escrow = address!("0x00000000000000000000000000000000000e5c01");
        let id = B256::repeat_byte(0xab);
        let ev = ISettlementEscrow::LegDeposited {
            settlementId: id,
            legIndex: U256::from(1),
            depositor: address!("0x00000000000000000000000000000000000000d1"),
            token: address!("0x00000000000000000000000000000000000000e1"),
            amount: U256::from(2500u64),
        };
        let log = alloy::primitives::Log {
            address: escrow,
            data: ev.encode_log_data(),
        };
        let s = decode_escrow_log(&log).unwrap();
        assert_eq!(s.event, "LegDeposited");
        assert_eq!(s.key, id);
        assert_eq!(s.fields["legIndex"], "1");
        assert_eq!(s.fields["amount"], "2500");
        assert_eq!(
            s.fields["token"],
            "0x00000000000000000000000000000000000000e1"
        );
        // Not an escrow event.
        let junk = alloy::primitives::Log {
            address: escrow,
            data: LogData::new_unchecked(vec![B256::ZERO], Bytes::new()),
        };
        assert!(decode_escrow_log(&junk).is_none());
    }

    #[test]
    fn decodes_the_v2_events() {
        let escrow = address!("0x00000000000000000000000000000000000e5c01");
        let id = B256::repeat_byte(0xab);
        let who = address!("0x00000000000000000000000000000000000000d2");
        let ev = ISettlementEscrow::LegOwed {
            settlementId: id,
            legIndex: U256::from(1),
            beneficiary: who,
            token: address!("0x00000000000000000000000000000000000000e1"),
            amount: U256::from(7u64),
            refund: true,
        };
        let log = alloy::primitives::Log {
            address: escrow,
            data: ev.encode_log_data(),
        };
        let s = decode_escrow_log(&log).unwrap();
        assert_eq!((s.event.as_str(), s.key), ("LegOwed", id));
        assert_eq!(s.fields["refund"], true);
        assert_eq!(s.fields["beneficiary"], format!("{who:#x}"));
        let ev = ISettlementEscrow::MessageDeferred {
            settlementId: id,
            kind: 3,
            dstEid: 40102,
            requiredFee: U256::ZERO,
            providedFee: U256::ZERO,
        };
        let log = alloy::primitives::Log {
            address: escrow,
            data: ev.encode_log_data(),
        };
        let s = decode_escrow_log(&log).unwrap();
        assert_eq!(s.fields["dstEid"], 40102);
        let ev = ISettlementEscrow::Claimed {
            token: Address::ZERO,
            beneficiary: who,
            to: who,
            amount: U256::from(7u64),
        };
        let log = alloy::primitives::Log {
            address: escrow,
            data: ev.encode_log_data(),
        };
        let s = decode_escrow_log(&log).unwrap();
        assert_eq!((s.event.as_str(), s.key), ("Claimed", who.into_word()));
    }

    #[test]
    fn keeps_only_packets_sent_by_the_escrow() {
        let escrow = address!("0x00000000000000000000000000000000000e5c01");
        let guid = B256::repeat_byte(0x42);
        let mut packet = vec![1u8];
        packet.extend_from_slice(&7u64.to_be_bytes());
        packet.extend_from_slice(&40101u32.to_be_bytes());
        packet.extend_from_slice(escrow.into_word().as_slice());
        packet.extend_from_slice(&40102u32.to_be_bytes());
        packet.extend_from_slice(escrow.into_word().as_slice());
        packet.extend_from_slice(guid.as_slice());
        packet.extend_from_slice(b"message");
        let ev = PacketSent {
            encodedPayload: Bytes::from(packet),
            options: Bytes::new(),
            sendLibrary: Address::ZERO,
        };
        let log = alloy::primitives::Log {
            address: Address::ZERO,
            data: ev.encode_log_data(),
        };
        let s = decode_packet_sent(&log, escrow).unwrap();
        assert_eq!(s.event, "PacketSent");
        assert_eq!(s.key, guid);
        let other = address!("0x00000000000000000000000000000000000e5c02");
        assert!(decode_packet_sent(&log, other).is_none());
    }
}
