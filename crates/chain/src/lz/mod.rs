//! The LayerZero v2 relayer: the receive-side DVN and executor of the escrows' paths.
//!
//! - [`codec`]: the packet codec (one header parser, shared with the indexer) and the
//!   executor options;
//! - [`delivery`]: one delivery pass of one packet (verify, commit, `lzReceive`), reading
//!   the destination's state before each step;
//! - [`relayer`]: the loop: queue the stored `PacketSent` logs as `lz_packets` rows, deliver
//!   the due ones in nonce order per path, record every pass with its typed status, retry
//!   with [`relayer::RELAY_BACKOFF`], never giving a readable packet up.
//!
//! The timeout and resend keeper is the sibling `keeper` module; failed steps are recorded
//! with `ChainError::describe` (LayerZero reverts named by type).

pub mod batch;
pub mod codec;
pub mod delivery;
pub mod relayer;
pub mod uln;

pub use codec::{HEADER_LEN, PACKET_VERSION, Packet, PacketError, PacketHeader, lz_receive_value};
pub use delivery::DeliveryState;
pub use relayer::{RELAY_BACKOFF, Relayer};
