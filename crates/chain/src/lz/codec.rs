//! The LayerZero v2 packet codec (`PacketV1Codec`): `header ‖ guid ‖ message`, with the
//! header `version(1) nonce(8) srcEid(4) sender(32) dstEid(4) receiver(32)`. One parser,
//! [`PacketHeader::read`], is shared by the indexer (which only keeps packets whose sender
//! is the escrow) and the relayer ([`Packet::parse`], which also checks the version and the
//! receiver before delivering). Also reads the executor's `lzReceive` value from the
//! packet's options.

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use lockstep_bindings::ILocalEndpoint;
use std::ops::Range;

/// Where each header field is, in bytes.
mod at {
    use std::ops::Range;
    pub(super) const VERSION: usize = 0;
    pub(super) const NONCE: Range<usize> = 1..9;
    pub(super) const SRC_EID: Range<usize> = 9..13;
    pub(super) const SENDER: Range<usize> = 13..45;
    pub(super) const DST_EID: Range<usize> = 45..49;
    pub(super) const RECEIVER: Range<usize> = 49..81;
    pub(super) const GUID: Range<usize> = 81..113;
}

/// Length of a LayerZero v2 packet header (PacketV1Codec).
pub const HEADER_LEN: usize = at::RECEIVER.end;
/// Header and guid: the shortest well-formed packet (empty message).
pub const MIN_PACKET_LEN: usize = at::GUID.end;
/// The only packet version this relayer understands (`PacketV1Codec.PACKET_VERSION`).
pub const PACKET_VERSION: u8 = 1;

/// Why bytes are not a LayerZero v2 packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Shorter than a header and a guid.
    #[error("packet of {0} bytes is shorter than header (81) + guid (32)")]
    TooShort(usize),
    /// A header version other than [`PACKET_VERSION`].
    #[error("packet version {0} is not supported")]
    Version(u8),
    /// The receiver word is not a left-padded EVM address.
    #[error("packet receiver {0} is not an EVM address")]
    Receiver(B256),
}

fn be_u64(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
}

fn be_u32(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |acc, x| (acc << 8) | u32::from(*x))
}

fn word(bytes: &[u8], r: Range<usize>) -> B256 {
    B256::from_slice(&bytes[r])
}

/// The header fields and the guid of an encoded packet, read without judging them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHeader {
    /// Header version.
    pub version: u8,
    /// Nonce on the path.
    pub nonce: u64,
    /// Source endpoint id.
    pub src_eid: u32,
    /// Sender (the source OApp, left-padded).
    pub sender: B256,
    /// Destination endpoint id.
    pub dst_eid: u32,
    /// Receiver (the destination OApp, left-padded).
    pub receiver: B256,
    /// The packet's guid.
    pub guid: B256,
}

impl PacketHeader {
    /// Reads the header and guid of `bytes`; only the length is checked.
    pub fn read(bytes: &[u8]) -> Result<PacketHeader, PacketError> {
        if bytes.len() < MIN_PACKET_LEN {
            return Err(PacketError::TooShort(bytes.len()));
        }
        Ok(PacketHeader {
            version: bytes[at::VERSION],
            nonce: be_u64(&bytes[at::NONCE]),
            src_eid: be_u32(&bytes[at::SRC_EID]),
            sender: word(bytes, at::SENDER),
            dst_eid: be_u32(&bytes[at::DST_EID]),
            receiver: word(bytes, at::RECEIVER),
            guid: word(bytes, at::GUID),
        })
    }

    /// Whether the sender word's address bytes (its low 20) are `address`.
    pub fn sent_by(&self, address: Address) -> bool {
        self.sender[12..] == address.as_slice()[..]
    }
}

/// A decoded LayerZero v2 packet ready to deliver: `header ‖ guid ‖ message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Header version (1).
    pub version: u8,
    /// Nonce on the path.
    pub nonce: u64,
    /// Source endpoint id.
    pub src_eid: u32,
    /// Sender (the source OApp, left-padded).
    pub sender: B256,
    /// Destination endpoint id.
    pub dst_eid: u32,
    /// Receiver (the destination OApp, left-padded).
    pub receiver: B256,
    /// The packet's guid.
    pub guid: B256,
    /// The OApp message.
    pub message: Bytes,
    /// The 81 header bytes as sent.
    pub header: Bytes,
    /// `guid ‖ message` as sent.
    pub payload: Bytes,
}

impl Packet {
    /// Decodes an encoded packet (the `encodedPayload` of the endpoint's `PacketSent`),
    /// refusing other versions and receivers that are not EVM addresses.
    pub fn parse(bytes: &[u8]) -> Result<Packet, PacketError> {
        let h = PacketHeader::read(bytes)?;
        if h.version != PACKET_VERSION {
            return Err(PacketError::Version(h.version));
        }
        if h.receiver[..12].iter().any(|b| *b != 0) {
            return Err(PacketError::Receiver(h.receiver));
        }
        Ok(Packet {
            version: h.version,
            nonce: h.nonce,
            src_eid: h.src_eid,
            sender: h.sender,
            dst_eid: h.dst_eid,
            receiver: h.receiver,
            guid: h.guid,
            message: Bytes::copy_from_slice(&bytes[MIN_PACKET_LEN..]),
            header: Bytes::copy_from_slice(&bytes[..HEADER_LEN]),
            payload: Bytes::copy_from_slice(&bytes[HEADER_LEN..]),
        })
    }

    /// The receiver as an address.
    pub fn receiver_address(&self) -> Address {
        Address::from_word(self.receiver)
    }

    /// `keccak256(guid ‖ message)`, what the DVN attests and the endpoint stores.
    pub fn payload_hash(&self) -> B256 {
        keccak256(&self.payload)
    }

    /// The path, for logs: `srcEid:sender->dstEid:receiver`.
    pub fn path(&self) -> String {
        format!(
            "{}:{}->{}:{}",
            self.src_eid,
            Address::from_word(self.sender),
            self.dst_eid,
            self.receiver_address()
        )
    }

    /// The endpoint's `Origin` of this packet.
    pub fn origin(&self) -> ILocalEndpoint::Origin {
        ILocalEndpoint::Origin {
            srcEid: self.src_eid,
            sender: self.sender,
            nonce: self.nonce,
        }
    }
}

/// The native value the executor must pass to `lzReceive`: the sum of the values of the
/// executor `LZRECEIVE` entries of type-3 options (0 for other option types or malformed
/// options, which the send library would not have accepted).
pub fn lz_receive_value(options: &[u8]) -> U256 {
    const TYPE_3: u64 = 3;
    const EXECUTOR_WORKER_ID: u8 = 1;
    const OPTION_TYPE_LZRECEIVE: u8 = 1;
    if options.len() < 2 || be_u64(&options[..2]) != TYPE_3 {
        return U256::ZERO;
    }
    let mut total = U256::ZERO;
    let mut at = 2;
    // Each entry: workerId u8, size u16 (option type + data), option type u8, data.
    while at + 3 <= options.len() {
        let worker = options[at];
        let size = usize::try_from(be_u64(&options[at + 1..at + 3])).unwrap_or(usize::MAX);
        let start = at + 3;
        let Some(end) = start.checked_add(size).filter(|e| *e <= options.len()) else {
            return U256::ZERO;
        };
        if size == 0 {
            return U256::ZERO;
        }
        let (kind, data) = (options[start], &options[start + 1..end]);
        if worker == EXECUTOR_WORKER_ID && kind == OPTION_TYPE_LZRECEIVE && data.len() == 32 {
            total = total.saturating_add(U256::from_be_slice(&data[16..32]));
        }
        at = end;
    }
    total
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use alloy::primitives::address;

    /// Encodes a packet the way `PacketV1Codec.encode` does.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn encode(
        version: u8,
        nonce: u64,
        src: u32,
        sender: Address,
        dst: u32,
        receiver: Address,
        guid: B256,
        message: &[u8],
    ) -> Vec<u8> {
        let mut v = vec![version];
        v.extend_from_slice(&nonce.to_be_bytes());
        v.extend_from_slice(&src.to_be_bytes());
        v.extend_from_slice(sender.into_word().as_slice());
        v.extend_from_slice(&dst.to_be_bytes());
        v.extend_from_slice(receiver.into_word().as_slice());
        v.extend_from_slice(guid.as_slice());
        v.extend_from_slice(message);
        v
    }

    #[test]
    fn parses_a_packet_back() {
        let sender = address!("1111111111111111111111111111111111111111");
        let receiver = address!("2222222222222222222222222222222222222222");
        let guid = B256::repeat_byte(0xab);
        let msg = [3u8, 0, 1, 2, 3];
        let bytes = encode(
            1,
            0x0102_0304_0506_0708,
            40161,
            sender,
            40231,
            receiver,
            guid,
            &msg,
        );
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!(p.version, 1);
        assert_eq!(p.nonce, 0x0102_0304_0506_0708);
        assert_eq!(p.src_eid, 40161);
        assert_eq!(p.dst_eid, 40231);
        assert_eq!(p.sender, sender.into_word());
        assert_eq!(p.receiver_address(), receiver);
        assert_eq!(p.guid, guid);
        assert_eq!(p.message.as_ref(), &msg);
        assert_eq!(p.header.as_ref(), &bytes[..81]);
        assert_eq!(p.payload.as_ref(), &bytes[81..]);
        assert_eq!(p.payload_hash(), keccak256(&bytes[81..]));
        assert_eq!(p.path(), format!("40161:{sender}->40231:{receiver}"));
        let o = p.origin();
        assert_eq!(
            (o.srcEid, o.sender, o.nonce),
            (40161, sender.into_word(), p.nonce)
        );
        let h = PacketHeader::read(&bytes).unwrap();
        assert!(h.sent_by(sender) && !h.sent_by(receiver));
        assert_eq!((h.guid, h.nonce, h.dst_eid), (guid, p.nonce, 40231));
    }

    #[test]
    fn parses_a_packet_with_an_empty_message() {
        let bytes = encode(1, 1, 1, Address::ZERO, 2, Address::ZERO, B256::ZERO, &[]);
        assert_eq!(bytes.len(), 113);
        assert!(Packet::parse(&bytes).unwrap().message.is_empty());
    }

    #[test]
    fn rejects_short_and_foreign_packets() {
        let good = encode(1, 1, 1, Address::ZERO, 2, Address::ZERO, B256::ZERO, b"x");
        assert_eq!(Packet::parse(&good[..112]), Err(PacketError::TooShort(112)));
        assert_eq!(Packet::parse(&good[..80]), Err(PacketError::TooShort(80)));
        assert_eq!(Packet::parse(&[]), Err(PacketError::TooShort(0)));
        let mut v2 = good.clone();
        v2[0] = 2;
        assert_eq!(Packet::parse(&v2), Err(PacketError::Version(2)));
        // The header reader does not judge: the indexer stores such packets and the
        // relayer records them as failed.
        assert_eq!(PacketHeader::read(&v2).unwrap().version, 2);
        let mut wide = good;
        wide[49] = 1;
        assert!(matches!(
            Packet::parse(&wide),
            Err(PacketError::Receiver(_))
        ));
    }

    #[test]
    fn reads_the_lz_receive_value_of_type_3_options() {
        // OptionsBuilder.newOptions().addExecutorLzReceiveOption(400_000, 0)
        let mut o = vec![0, 3];
        o.extend_from_slice(&[1, 0, 17, 1]);
        o.extend_from_slice(&400_000u128.to_be_bytes());
        assert_eq!(lz_receive_value(&o), U256::ZERO);
        // ... plus addExecutorLzReceiveOption(100_000, 7 ether) and a DVN option.
        o.extend_from_slice(&[1, 0, 33, 1]);
        o.extend_from_slice(&100_000u128.to_be_bytes());
        o.extend_from_slice(&7_000_000_000_000_000_000u128.to_be_bytes());
        o.extend_from_slice(&[2, 0, 2, 1, 0]);
        assert_eq!(
            lz_receive_value(&o),
            U256::from(7_000_000_000_000_000_000u128)
        );
        // Truncated or other types: no value.
        assert_eq!(lz_receive_value(&o[..o.len() - 1]), U256::ZERO);
        assert_eq!(lz_receive_value(&[0, 1]), U256::ZERO);
        assert_eq!(lz_receive_value(&[]), U256::ZERO);
    }
}
