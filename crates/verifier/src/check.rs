//! The checks of one `PacketSent` before it is attested: emitted by the source chain's
//! configured EndpointV2, a well-formed v1 packet from the source's eid, sent by the
//! source's escrow (other applications' packets on the same endpoint are not ours and are
//! skipped), addressed to a configured destination's escrow, and with the GUID LayerZero
//! derives from the header (`GUID.generate`), so the header and the payload hash attested are
//! the ones the endpoint will recompute.

use crate::agree::SeenLog;
use crate::config::{VerifierChain, VerifierConfig};
use alloy::primitives::{Address, B256, Bytes, keccak256};
use alloy::sol_types::SolEvent;
use lockstep_bindings::ILayerZeroEndpointV2::PacketSent;
use lockstep_chain::lz::Packet;

/// A packet to attest on its destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// Destination chain id.
    pub dst_chain_id: u64,
    /// The decoded packet (header, payload, path).
    pub packet: Packet,
}

impl Attestation {
    /// `keccak256(header)`, the ULN's key.
    pub fn header_hash(&self) -> B256 {
        keccak256(&self.packet.header)
    }

    /// The packet's header bytes.
    pub fn header(&self) -> Bytes {
        self.packet.header.clone()
    }
}

/// Why a `PacketSent` is not attested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Not emitted by the configured endpoint (never expected: the scan filters by it).
    #[error("log emitted by {got}, not the configured endpoint {expected}")]
    WrongEmitter {
        /// The configured endpoint.
        expected: Address,
        /// The emitter.
        got: Address,
    },
    /// Not a `PacketSent` or not a v1 packet.
    #[error("undecodable PacketSent: {0}")]
    Undecodable(String),
    /// Sent by another application on the endpoint: not ours, skipped quietly.
    #[error("sent by {0}, not the escrow")]
    ForeignSender(Address),
    /// The packet's source eid is not the chain's.
    #[error("packet claims source eid {got}, the chain's eid is {expected}")]
    WrongSourceEid {
        /// The chain's eid.
        expected: u32,
        /// The packet's.
        got: u32,
    },
    /// No configured chain has the destination eid.
    #[error("no configured chain has destination eid {0}")]
    UnknownDestination(u32),
    /// The receiver is not the destination's escrow.
    #[error("receiver {got} is not the escrow {expected} of chain {chain_id}")]
    WrongReceiver {
        /// Destination chain id.
        chain_id: u64,
        /// Its escrow.
        expected: Address,
        /// The packet's receiver.
        got: Address,
    },
    /// The GUID is not the one LayerZero derives from the header.
    #[error("guid {got} is not keccak256(nonce, srcEid, sender, dstEid, receiver) = {expected}")]
    Guid {
        /// Derived.
        expected: B256,
        /// In the packet.
        got: B256,
    },
}

impl Rejection {
    /// Whether this is a packet of some other application (skipped without alarm).
    pub fn is_foreign(&self) -> bool {
        matches!(self, Rejection::ForeignSender(_))
    }
}

/// LayerZero's `GUID.generate(nonce, srcEid, sender, dstEid, receiver)`.
pub fn guid(nonce: u64, src_eid: u32, sender: B256, dst_eid: u32, receiver: B256) -> B256 {
    let mut b = Vec::with_capacity(8 + 4 + 32 + 4 + 32);
    b.extend_from_slice(&nonce.to_be_bytes());
    b.extend_from_slice(&src_eid.to_be_bytes());
    b.extend_from_slice(sender.as_slice());
    b.extend_from_slice(&dst_eid.to_be_bytes());
    b.extend_from_slice(receiver.as_slice());
    keccak256(b)
}

/// Checks a `PacketSent` seen on `src` against the configuration.
pub fn check_packet(
    config: &VerifierConfig,
    src: &VerifierChain,
    log: &SeenLog,
) -> Result<Attestation, Rejection> {
    if log.address != src.endpoint {
        return Err(Rejection::WrongEmitter {
            expected: src.endpoint,
            got: log.address,
        });
    }
    let event = PacketSent::decode_raw_log(log.topics.iter().copied(), &log.data)
        .map_err(|e| Rejection::Undecodable(e.to_string()))?;
    let packet =
        Packet::parse(&event.encodedPayload).map_err(|e| Rejection::Undecodable(e.to_string()))?;
    let sender = Address::from_word(packet.sender);
    if sender != src.escrow {
        return Err(Rejection::ForeignSender(sender));
    }
    if packet.src_eid != src.eid {
        return Err(Rejection::WrongSourceEid {
            expected: src.eid,
            got: packet.src_eid,
        });
    }
    let dst = config
        .by_eid(packet.dst_eid)
        .ok_or(Rejection::UnknownDestination(packet.dst_eid))?;
    if packet.receiver_address() != dst.escrow {
        return Err(Rejection::WrongReceiver {
            chain_id: dst.chain_id,
            expected: dst.escrow,
            got: packet.receiver_address(),
        });
    }
    let expected = guid(
        packet.nonce,
        packet.src_eid,
        packet.sender,
        packet.dst_eid,
        packet.receiver,
    );
    if packet.guid != expected {
        return Err(Rejection::Guid {
            expected,
            got: packet.guid,
        });
    }
    Ok(Attestation {
        dst_chain_id: dst.chain_id,
        packet,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const A: u32 = 40101;
    const B: u32 = 40102;

    fn chain(chain_id: u64, eid: u32, tag: u8) -> VerifierChain {
        VerifierChain {
            chain_id,
            eid,
            escrow: Address::repeat_byte(tag),
            endpoint: Address::repeat_byte(tag + 1),
            receive_lib: Address::repeat_byte(tag + 2),
            rpc_urls: vec!["http://127.0.0.1:1".into()],
            confirmations: 1,
            start_block: 0,
            min_balance_wei: None,
        }
    }

    fn config() -> VerifierConfig {
        VerifierConfig {
            listen: "127.0.0.1:0".into(),
            poll_interval_ms: 100,
            rpc_timeout_ms: 1000,
            chains: vec![chain(31337, A, 0x10), chain(31338, B, 0x20)],
        }
    }

    /// A packet's bytes (`PacketV1Codec`), with the derived guid unless `guid_override`.
    fn packet(
        src_eid: u32,
        sender: Address,
        dst_eid: u32,
        receiver: Address,
        guid_override: Option<B256>,
    ) -> Vec<u8> {
        let (s, r) = (sender.into_word(), receiver.into_word());
        let g = guid_override.unwrap_or_else(|| guid(7, src_eid, s, dst_eid, r));
        let mut b = vec![1u8];
        b.extend_from_slice(&7u64.to_be_bytes());
        b.extend_from_slice(&src_eid.to_be_bytes());
        b.extend_from_slice(s.as_slice());
        b.extend_from_slice(&dst_eid.to_be_bytes());
        b.extend_from_slice(r.as_slice());
        b.extend_from_slice(g.as_slice());
        b.extend_from_slice(&[3, 1, 2, 3]);
        b
    }

    fn log_of(emitter: Address, encoded: Vec<u8>) -> SeenLog {
        let ev = PacketSent {
            encodedPayload: encoded.into(),
            options: Bytes::new(),
            sendLibrary: Address::repeat_byte(0x99),
        };
        let data = ev.encode_log_data();
        SeenLog {
            block_number: 5,
            block_hash: B256::repeat_byte(5),
            tx_hash: B256::repeat_byte(6),
            log_index: 0,
            address: emitter,
            topics: data.topics().to_vec(),
            data: data.data,
        }
    }

    #[test]
    fn attests_a_packet_between_the_escrows() {
        let c = config();
        let (a, b) = (&c.chains[0], &c.chains[1]);
        let bytes = packet(A, a.escrow, B, b.escrow, None);
        let got = check_packet(&c, a, &log_of(a.endpoint, bytes.clone())).unwrap();
        assert_eq!(got.dst_chain_id, 31338);
        assert_eq!(got.packet, Packet::parse(&bytes).unwrap());
        assert_eq!(got.header(), Bytes::from(bytes[..81].to_vec()));
        assert_eq!(got.packet.payload_hash(), keccak256(&bytes[81..]));
    }

    #[test]
    fn refuses_what_the_configuration_does_not_say() {
        let c = config();
        let (a, b) = (&c.chains[0], &c.chains[1]);
        let good = packet(A, a.escrow, B, b.escrow, None);
        let other = Address::repeat_byte(0x55);
        assert_eq!(
            check_packet(&c, a, &log_of(other, good.clone())).unwrap_err(),
            Rejection::WrongEmitter {
                expected: a.endpoint,
                got: other
            }
        );
        let foreign = check_packet(
            &c,
            a,
            &log_of(a.endpoint, packet(A, other, B, b.escrow, None)),
        )
        .unwrap_err();
        assert_eq!(foreign, Rejection::ForeignSender(other));
        assert!(foreign.is_foreign());
        assert_eq!(
            check_packet(
                &c,
                a,
                &log_of(a.endpoint, packet(B, a.escrow, B, b.escrow, None))
            )
            .unwrap_err(),
            Rejection::WrongSourceEid {
                expected: A,
                got: B
            }
        );
        assert_eq!(
            check_packet(
                &c,
                a,
                &log_of(a.endpoint, packet(A, a.escrow, 9, b.escrow, None))
            )
            .unwrap_err(),
            Rejection::UnknownDestination(9)
        );
        let wrong_receiver = check_packet(
            &c,
            a,
            &log_of(a.endpoint, packet(A, a.escrow, B, other, None)),
        )
        .unwrap_err();
        assert_eq!(
            wrong_receiver,
            Rejection::WrongReceiver {
                chain_id: 31338,
                expected: b.escrow,
                got: other
            }
        );
        assert!(!wrong_receiver.is_foreign());
        let forged = B256::repeat_byte(0xab);
        assert!(matches!(
            check_packet(&c, a, &log_of(a.endpoint, packet(A, a.escrow, B, b.escrow, Some(forged)))).unwrap_err(),
            Rejection::Guid { got, .. } if got == forged
        ));
        let mut short = good;
        short.truncate(40);
        assert!(matches!(
            check_packet(&c, a, &log_of(a.endpoint, short)).unwrap_err(),
            Rejection::Undecodable(_)
        ));
    }
}
