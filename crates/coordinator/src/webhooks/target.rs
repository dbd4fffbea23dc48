//! Which webhook targets the coordinator posts to (SSRF protection).
//!
//! A target must be an absolute `http`/`https` URL without credentials whose host is a
//! public name or a globally routable address. Refused: loopback, private (RFC 1918),
//! shared (CGNAT), link-local, unique-local, site-local, multicast, unspecified,
//! broadcast, documentation, benchmarking and other reserved ranges, the IPv4-mapped,
//! -compatible, -translated, NAT64 and 6to4 forms of those, the cloud metadata addresses
//! and the names `localhost`, `*.localhost`, `metadata`, `metadata.*`, `instance-data*`
//! and `*.internal`. The URL is parsed the WHATWG way (what the HTTP client does), so
//! every spelling it accepts is checked in its normalised form: `2130706433`, `0x7f.1`,
//! `0177.0.0.1`, `127.1`, `%31%32%37.0.0.1`, `[::ffff:7f00:1]`, `LOCALHOST.`.
//!
//! [`TargetPolicy::check_url`] runs without DNS when an endpoint is saved; at delivery
//! the [`super::resolver`] checks every address a name resolves to as well. An
//! allow-list of CIDRs (`webhooks.allow_private_targets`) lets chosen private ranges
//! through (a devnet's loopback receivers); the metadata addresses and names stay refused.

use ipnet::IpNet;
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::Host;

/// Why a target is refused. The text is shown to the platform that saved the URL (it
/// depends on the URL alone, never on the network).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an absolute URL.
    #[error("invalid url: {0}")]
    Invalid(#[from] url::ParseError),
    /// Not http or https.
    #[error("url must be http or https")]
    Scheme,
    /// `user:password@` in the URL.
    #[error("url must not contain credentials (user:password@)")]
    Credentials,
    /// No host.
    #[error("url must have a host")]
    NoHost,
    /// A host name that is local or a metadata service by definition.
    #[error("host {0} is a local or cloud metadata name")]
    Name(String),
    /// An address in a refused range.
    #[error("host {addr} is a {kind} address")]
    Address {
        /// The address (normalised).
        addr: IpAddr,
        /// Which range, e.g. `loopback`.
        kind: &'static str,
    },
}

/// Addresses of cloud metadata services, refused even when an allow-list covers them.
const METADATA: [IpAddr; 5] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)),
];

/// The webhook target rules with the configured allow-list.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    allow: Vec<IpNet>,
}

impl TargetPolicy {
    /// Rules that let the addresses inside `allow` through (besides public ones).
    pub fn new(allow: &[IpNet]) -> TargetPolicy {
        TargetPolicy {
            allow: allow.to_vec(),
        }
    }

    /// Checks a URL without resolving it: scheme, credentials, host name or address.
    pub fn check_url(&self, url: &str) -> Result<Url, TargetError> {
        let parsed = Url::parse(url)?;
        if parsed.scheme() != "http" && parsed.scheme() != "https" {
            return Err(TargetError::Scheme);
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(TargetError::Credentials);
        }
        match parsed.host() {
            None => return Err(TargetError::NoHost),
            Some(Host::Domain(d)) => check_name(d)?,
            Some(Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip))?,
        }
        Ok(parsed)
    }

    /// Checks one address (a URL's literal host or what a name resolved to).
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), TargetError> {
        let ip = ip.to_canonical();
        let refuse = |kind| Err(TargetError::Address { addr: ip, kind });
        if METADATA.contains(&ip) {
            return refuse("cloud metadata");
        }
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        match forbidden_kind(ip) {
            Some(kind) => refuse(kind),
            None => Ok(()),
        }
    }
}

/// Refuses host names that are local or metadata services by definition. `d` is the
/// URL parser's normalised (lower-case, IDNA-mapped) form; trailing dots are ignored.
pub fn check_name(d: &str) -> Result<(), TargetError> {
    let name = d.trim_end_matches('.').to_ascii_lowercase();
    let local = name.is_empty()
        || name == "localhost"
        || name.ends_with(".localhost")
        || name == "metadata"
        || name.starts_with("metadata.")
        || name.starts_with("instance-data")
        || name == "internal"
        || name.ends_with(".internal");
    if local {
        return Err(TargetError::Name(d.to_string()));
    }
    Ok(())
}

/// The refused range an address is in, if any (before the allow-list).
pub fn forbidden_kind(ip: IpAddr) -> Option<&'static str> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

/// Whether `ip` is in `net`/`len` (IPv4).
fn in4(ip: Ipv4Addr, net: [u8; 4], len: u8) -> bool {
    IpNet::V4(ipnet::Ipv4Net::new_assert(Ipv4Addr::from(net), len)).contains(&IpAddr::V4(ip))
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: [([u8; 4], u8, &str); 17] = [
        ([0, 0, 0, 0], 8, "unspecified"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([10, 0, 0, 0], 8, "private"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 168, 0, 0], 16, "private"),
        ([100, 64, 0, 0], 10, "shared (CGNAT)"),
        ([169, 254, 0, 0], 16, "link-local"),
        ([192, 0, 0, 0], 24, "reserved"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([192, 88, 99, 0], 24, "reserved"),
        ([192, 31, 196, 0], 24, "reserved"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([255, 255, 255, 255], 32, "broadcast"),
        ([240, 0, 0, 0], 4, "reserved"),
    ];
    RANGES
        .iter()
        .find(|(net, len, _)| in4(ip, *net, *len))
        .map(|(_, _, kind)| *kind)
}

/// The IPv4 address in bits `from..from+32` of an IPv6 address.
fn embedded_v4(ip: Ipv6Addr, from: u32) -> Ipv4Addr {
    let bits = u128::from(ip) >> (96 - from);
    Ipv4Addr::from(u32::try_from(bits & 0xffff_ffff).unwrap_or(0))
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = u128::from(ip);
    let prefix = |net: u128, len: u32| bits >> (128 - len) == net >> (128 - len);
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if prefix(0, 96) {
        return Some("IPv4-compatible (deprecated)");
    }
    if prefix(0xffff << 48, 96) {
        return Some("IPv4-translated");
    }
    if prefix(0x0064_ff9b << 96, 96) {
        // NAT64 (well-known prefix): as good as the IPv4 address it reaches.
        return v4_kind(embedded_v4(ip, 96)).map(|_| "NAT64 form of a refused");
    }
    if prefix(0x2002 << 112, 16) {
        // 6to4: as good as the embedded IPv4 relay address.
        return v4_kind(embedded_v4(ip, 16)).map(|_| "6to4 form of a refused");
    }
    const RANGES: [(u128, u32, &str); 10] = [
        (0x0064_ff9b_0001 << 80, 48, "NAT64 local-use"),
        (0x0100 << 112, 64, "discard-only"),
        (0x2001_0db8 << 96, 32, "documentation"),
        (
            0x2001 << 112,
            23,
            "reserved (IETF protocol assignments, Teredo)",
        ),
        (0x3fff << 112, 20, "documentation"),
        (0x5f00 << 112, 16, "reserved (SRv6)"),
        (0xfc00 << 112, 7, "unique-local"),
        (0xfe80 << 112, 10, "link-local"),
        (0xfec0 << 112, 10, "site-local"),
        (0xff00 << 112, 8, "multicast"),
    ];
    if let Some((_, _, kind)) = RANGES.iter().find(|(net, len, _)| prefix(*net, *len)) {
        return Some(kind);
    }
    // Only 2000::/3 is global unicast.
    (!prefix(0x2000 << 112, 3)).then_some("reserved")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every spelling of a refused target the URL parser accepts.
    pub(crate) const REFUSED: &[&str] = &[
        "http://127.0.0.1/",
        "http://127.0.0.1./",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://0177.1/",
        "http://127.1/",
        "http://127.0.1/",
        "http://%31%32%37.0.0.1/",
        "http://[::1]/",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::127.0.0.1]/",
        "http://[64:ff9b::127.0.0.1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:7f00:1::]/",
        "http://0.0.0.0/",
        "http://0/",
        "http://[::]/",
        "http://localhost/",
        "http://LOCALHOST./",
        "http://api.localhost/",
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/",
        "http://[fd00:ec2::254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://metadata.google.internal./",
        "http://metadata/",
        "http://metadata.azure.com/",
        "http://instance-data/",
        "http://10.0.0.1/",
        "http://10.1/",
        "http://172.16.0.1/",
        "http://172.31.255.255/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://169.254.1.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[fd12:3456::1]/",
        "http://[fec0::1]/",
        "http://224.0.0.1/",
        "http://[ff02::1]/",
        "http://255.255.255.255/",
        "http://240.0.0.1/",
        "http://192.0.2.1/",
        "http://198.51.100.7/",
        "http://203.0.113.9/",
        "http://198.18.0.1/",
        "http://[2001:db8::1]/",
        "http://[2001::1]/",
        "http://[100::1]/",
        "https://user:pass@example.com/",
        "https://user@example.com/",
        "https://:pass@example.com/",
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "not a url",
    ];

    #[test]
    fn every_spelling_of_a_refused_target_is_refused() {
        let p = TargetPolicy::default();
        for url in REFUSED {
            assert!(p.check_url(url).is_err(), "{url} accepted");
        }
    }

    #[test]
    fn public_targets_pass() {
        let p = TargetPolicy::default();
        for url in [
            "https://hooks.example.com/x?y=1",
            "http://93.184.216.34:8080/",
            "https://[2606:4700::6810:84e5]/",
            "http://[::ffff:93.184.216.34]/",
            "http://[64:ff9b::5db8:d822]/",
            "https://metadatastore.example.com/",
            "https://internal.example.com/",
        ] {
            assert!(p.check_url(url).is_ok(), "{url} refused");
        }
    }

    #[test]
    fn refusals_say_why() {
        let p = TargetPolicy::default();
        let why = |u: &str| p.check_url(u).unwrap_err().to_string();
        assert_eq!(
            why("http://0x7f.1/"),
            "host 127.0.0.1 is a loopback address"
        );
        assert_eq!(
            why("http://[::ffff:10.0.0.1]/"),
            "host 10.0.0.1 is a private address"
        );
        assert_eq!(
            why("http://[fd00:ec2::254]/"),
            "host fd00:ec2::254 is a cloud metadata address"
        );
        assert_eq!(
            why("https://a:b@example.com/"),
            "url must not contain credentials (user:password@)"
        );
        assert_eq!(
            why("http://metadata.google.internal./"),
            "host metadata.google.internal. is a local or cloud metadata name"
        );
    }

    #[test]
    fn the_allow_list_lets_chosen_ranges_through_but_never_metadata() {
        let p = TargetPolicy::new(&[
            "127.0.0.1/32".parse().unwrap(),
            "::1/128".parse().unwrap(),
            "169.254.0.0/16".parse().unwrap(),
        ]);
        for ok in [
            "http://127.0.0.1:9000/hook",
            "http://127.1:9000/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::1]/",
        ] {
            assert!(p.check_url(ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "http://127.0.0.2/",
            "http://0.0.0.0/",
            "http://169.254.169.254/",
            "http://localhost/",
        ] {
            assert!(p.check_url(bad).is_err(), "{bad} accepted");
        }
    }
}
