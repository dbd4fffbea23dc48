//! Webhooks: per-platform endpoints, the transactional outbox and the delivery worker.
//!
//! Every settlement state change writes one event per involved platform
//! (`webhook_events`) and one delivery per enabled endpoint of that platform
//! (`webhook_deliveries`) in the same transaction as the change ([`outbox`]). The worker
//! ([`delivery`]) claims due deliveries (`FOR UPDATE SKIP LOCKED` on PostgreSQL), signs
//! them the Standard Webhooks way with every live secret ([`signature`]) and retries on
//! a schedule that spans more than a day ([`schedule`]), recording every attempt; a
//! platform can redeliver or recover failed deliveries ([`recover`]). Targets must be
//! public ([`target`]), checked when saved and again after resolution at delivery, where
//! the checked addresses are pinned ([`resolver`]). [`endpoints`] manages the platforms'
//! endpoints and their secrets.

pub mod delivery;
pub mod endpoints;
pub mod outbox;
pub mod recover;
pub mod resolver;
pub mod schedule;
pub mod signature;
pub mod target;

pub use delivery::{
    Attempt, Delivery, DeliveryStatus, SettlementDelivery, UNDELIVERABLE, WebhookWorker,
    deliveries, delivery, for_settlement,
};
pub use endpoints::{Endpoint, Rotation, create, delete, get, list, rotate, update};
pub use outbox::test_ping;
pub use recover::{Recovery, Redelivery, recover, redeliver};
pub use resolver::{Lookup, StaticHosts, SystemLookup};
pub use signature::{new_secret, sign, verify};
pub use target::{TargetError, TargetPolicy};
