//! The Lockstep coordinator: matches settlement instructions from platforms, screens the
//! parties, drives the settlement state machine and delivers signed webhooks.
