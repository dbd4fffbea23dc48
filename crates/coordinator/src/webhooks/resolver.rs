//! Name resolution for webhook delivery, checked and pinned.
//!
//! The delivery client resolves every host name through a [`GuardedResolver`]: it looks
//! the name up once ([`Lookup`]), refuses the name if **any** address it resolves to is
//! refused by the [`TargetPolicy`], and hands exactly the checked addresses to the
//! connector, so no second lookup (DNS rebinding) can swap them. Literal addresses never
//! reach a resolver; the worker checks them with [`TargetPolicy::check_url`] before each
//! attempt. The client follows no redirects and uses no proxy.

use super::target::TargetPolicy;
use crate::{Error, Result};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Looks a host name up (the DNS part of a resolver, replaceable in tests).
#[async_trait::async_trait]
pub trait Lookup: Send + Sync + std::fmt::Debug + 'static {
    /// Every address of `host`.
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo` via tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

#[async_trait::async_trait]
impl Lookup for SystemLookup {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((host, 0))
            .await?
            .map(|a| a.ip())
            .collect())
    }
}

/// A fixed name → addresses table (a hosts file); unknown names do not resolve.
#[derive(Debug, Clone, Default)]
pub struct StaticHosts(pub HashMap<String, Vec<IpAddr>>);

#[async_trait::async_trait]
impl Lookup for StaticHosts {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        self.0
            .get(&host.trim_end_matches('.').to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "unknown host"))
    }
}

/// Why a name was not resolved to a usable target.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The name itself is refused.
    #[error("refused webhook target: {0}")]
    Refused(#[from] super::target::TargetError),
    /// The lookup failed.
    #[error("lookup of {host} failed")]
    Lookup {
        /// The name.
        host: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// The name has no address.
    #[error("{0} has no address")]
    Empty(String),
}

/// A reqwest resolver that checks every resolved address against the policy.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<TargetPolicy>,
    lookup: Arc<dyn Lookup>,
}

impl GuardedResolver {
    /// Resolves with `lookup` and admits only what `policy` allows.
    pub fn new(policy: Arc<TargetPolicy>, lookup: Arc<dyn Lookup>) -> GuardedResolver {
        GuardedResolver { policy, lookup }
    }

    /// The checked addresses of `host` (port 0: the URL's port is used).
    pub async fn resolve_checked(
        &self,
        host: &str,
    ) -> std::result::Result<Vec<SocketAddr>, ResolveError> {
        super::target::check_name(host)?;
        let ips = self
            .lookup
            .lookup(host)
            .await
            .map_err(|source| ResolveError::Lookup {
                host: host.to_string(),
                source,
            })?;
        if ips.is_empty() {
            return Err(ResolveError::Empty(host.to_string()));
        }
        for ip in &ips {
            self.policy.check_ip(*ip)?;
        }
        Ok(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect())
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let me = self.clone();
        Box::pin(async move {
            let addrs = me.resolve_checked(name.as_str()).await?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client webhook deliveries use: resolution through a [`GuardedResolver`], no
/// redirects, no proxy.
pub fn delivery_client(
    policy: Arc<TargetPolicy>,
    lookup: Arc<dyn Lookup>,
) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver::new(policy, lookup)))
        .build()
        .map_err(|e| Error::Config(format!("webhook http client: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hosts(pairs: &[(&str, &[&str])]) -> Arc<dyn Lookup> {
        Arc::new(StaticHosts(
            pairs
                .iter()
                .map(|(n, ips)| {
                    (
                        n.to_string(),
                        ips.iter().map(|i| i.parse().unwrap()).collect(),
                    )
                })
                .collect(),
        ))
    }

    #[tokio::test]
    async fn a_name_is_refused_when_any_of_its_addresses_is() {
        let lookup = hosts(&[
            ("public.test", &["93.184.216.34"]),
            ("mixed.test", &["93.184.216.34", "10.0.0.7"]),
            ("meta.test", &["169.254.169.254"]),
            ("mapped.test", &["::ffff:127.0.0.1"]),
        ]);
        let r = GuardedResolver::new(Arc::new(TargetPolicy::default()), lookup);
        assert_eq!(
            r.resolve_checked("public.test").await.unwrap(),
            vec!["93.184.216.34:0".parse().unwrap()]
        );
        for bad in [
            "mixed.test",
            "meta.test",
            "mapped.test",
            "localhost",
            "nowhere.test",
        ] {
            assert!(r.resolve_checked(bad).await.is_err(), "{bad} resolved");
        }
    }
}
