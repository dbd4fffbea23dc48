//! Webhooks: per-platform endpoints, the transactional outbox and the delivery worker.
//!
//! Every settlement state change writes one event per involved platform
//! (`webhook_events`) and one delivery per enabled endpoint of that platform
//! (`webhook_deliveries`) in the same transaction as the change ([`outbox`]). The worker
//! ([`delivery`]) claims due deliveries (`FOR UPDATE SKIP LOCKED` on PostgreSQL), signs
//! them the Standard Webhooks way and retries with exponential backoff and jitter,
//! recording every attempt. [`endpoints`] manages the platforms' endpoints.

pub mod delivery;
pub mod endpoints;
pub mod outbox;
pub mod signature;

pub use delivery::{Attempt, Delivery, DeliveryStatus, WebhookWorker, deliveries};
pub use endpoints::{Endpoint, create, delete, get, list, rotate, update, validate_url};
pub use outbox::test_ping;
pub use signature::{new_secret, sign, verify};
