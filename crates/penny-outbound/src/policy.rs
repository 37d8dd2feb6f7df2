//! Which destinations are refused: addresses that reach the server's own machine, its
//! private networks or its cloud's metadata service, unless the operator allows them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

/// Why a destination is refused. Names the kind of address, never the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(String);

impl Refusal {
    pub fn new(reason: impl Into<String>) -> Refusal {
        Refusal(reason.into())
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

#[derive(Debug, thiserror::Error)]
#[error("OUTBOUND_ALLOW: {0:?} is neither an address, a CIDR range nor a host name")]
pub struct PolicyError(String);

/// Refused address ranges, less what the operator allows.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    nets: Vec<IpNet>,
    hosts: Vec<String>,
}

impl Policy {
    /// Refuses every special range; allows nothing extra.
    pub fn strict() -> Policy {
        Policy::default()
    }

    /// The loopback addresses only (and `localhost`): a local Ollama or the fake provider.
    pub fn loopback() -> Policy {
        Policy {
            nets: vec![
                IpNet::from(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                IpNet::from(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ],
            hosts: vec!["localhost".into()],
        }
    }

    /// A comma-separated list of addresses, CIDR ranges and host names (`*.corp.example`
    /// for a domain's hosts); empty or `none` allows nothing extra.
    pub fn parse(spec: &str) -> Result<Policy, PolicyError> {
        let mut policy = Policy::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item.eq_ignore_ascii_case("none") {
                continue;
            }
            if let Ok(net) = item.parse::<IpNet>() {
                policy.nets.push(net);
            } else if let Ok(ip) = item.trim_matches(['[', ']']).parse::<IpAddr>() {
                policy.nets.push(IpNet::from(ip));
            } else if is_host_pattern(item) {
                policy.hosts.push(item.to_ascii_lowercase());
            } else {
                return Err(PolicyError(item.to_string()));
            }
        }
        Ok(policy)
    }

    /// Whether the operator allowed this host name as such.
    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.iter().any(|h| match h.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => *h == host,
        })
    }

    /// Checks a URL's scheme and, when its host is a literal address, that address.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::new("only http and https URLs are allowed"));
        }
        match url.host() {
            None => Err(Refusal::new("the URL has no host")),
            Some(url::Host::Domain(d)) => {
                if let Ok(ip) = d.parse::<IpAddr>() {
                    self.check_ip(ip)
                } else {
                    Ok(())
                }
            }
            Some(url::Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
        }
    }

    /// Checks an address `host` resolved to (or the peer a response came from).
    pub fn check_peer(&self, host: Option<&str>, peer: SocketAddr) -> Result<(), Refusal> {
        if host.is_some_and(|h| self.host_allowed(h)) {
            return Ok(());
        }
        self.check_ip(peer.ip())
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        let ip = canonical(ip);
        if self.nets.iter().any(|n| n.contains(&ip)) {
            return Ok(());
        }
        match special(ip) {
            Some(kind) => Err(Refusal::new(format!("{kind} addresses are not allowed"))),
            None => Ok(()),
        }
    }
}

fn is_host_pattern(s: &str) -> bool {
    let name = s.strip_prefix("*.").unwrap_or(s);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// An IPv4 address carried in IPv6 (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`,
/// compatible `::a.b.c.d`) is judged as the IPv4 address it reaches.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || (s[..6] == [0; 6] && s[6] != 0) {
                let o = v6.octets();
                return IpAddr::V4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            IpAddr::V6(v6)
        }
        v4 => v4,
    }
}

/// The kind of a special-purpose address, or `None` for a public one.
fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private (RFC 1918)")
            } else if v4.is_link_local() {
                Some("link-local and cloud metadata")
            } else if a == 100 && (64..128).contains(&b) {
                Some("shared (CGNAT)")
            } else if v4.is_multicast() || v4.is_broadcast() || a >= 240 {
                Some("multicast, broadcast and reserved")
            } else if a == 0 {
                Some("unspecified")
            } else if a == 192 && b == 0 && c == 0 {
                // IETF protocol assignments, among them 192.0.0.192 (a metadata service).
                Some("IETF protocol")
            } else if (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 0 && c == 2)
                || (a == 198 && b == 51 && c == 100)
                || (a == 203 && b == 0 && c == 113)
            {
                Some("benchmarking and documentation")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if s[0] & 0xfe00 == 0xfc00 {
                // fc00::/7, among them fd00:ec2::254 (a metadata service).
                Some("unique-local IPv6")
            } else if s[0] & 0xffc0 == 0xfe80 || s[0] & 0xffc0 == 0xfec0 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if s[0] == 0x2001 && s[1] == 0x0db8 {
                Some("documentation")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(p: &Policy, ip: &str) -> bool {
        p.check_ip(ip.parse().expect("an address")).is_err()
    }

    #[test]
    fn special_ranges_are_refused_and_public_ones_pass() {
        let p = Policy::strict();
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.192",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::7f00:1",
        ] {
            assert!(refused(&p, ip), "{ip} should be refused");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
        ] {
            assert!(!refused(&p, ip), "{ip} should pass");
        }
    }

    #[test]
    fn the_operator_allows_ranges_and_hosts() {
        let p = Policy::parse("10.0.0.0/8, 127.0.0.1, ollama.internal, *.corp.example").unwrap();
        assert!(!refused(&p, "10.9.9.9"));
        assert!(!refused(&p, "127.0.0.1"));
        assert!(refused(&p, "127.0.0.2"));
        assert!(refused(&p, "192.168.0.1"));
        let peer: SocketAddr = "192.168.0.7:80".parse().unwrap();
        assert!(p.check_peer(Some("ollama.internal"), peer).is_ok());
        assert!(p.check_peer(Some("OLLAMA.internal."), peer).is_ok());
        assert!(p.check_peer(Some("gpu.corp.example"), peer).is_ok());
        assert!(p.check_peer(Some("corp.example.evil"), peer).is_err());
        assert!(p.check_peer(Some("other.internal"), peer).is_err());
        assert!(Policy::parse("none")
            .unwrap()
            .check_ip("127.0.0.1".parse().unwrap())
            .is_err());
        assert!(Policy::parse("not a host!").is_err());
    }

    #[test]
    fn urls_are_checked_by_scheme_and_literal_address() {
        let p = Policy::strict();
        let check = |u: &str| p.check_url(&url::Url::parse(u).unwrap());
        assert!(check("https://api.openai.com/v1").is_ok());
        assert!(check("http://169.254.169.254/latest/meta-data").is_err());
        assert!(check("http://[::ffff:7f00:1]:8080/").is_err());
        assert!(
            check("http://2130706433/").is_err(),
            "decimal form of 127.0.0.1"
        );
        assert!(check("http://0x7f.1/").is_err(), "hex form of 127.0.0.1");
        assert!(check("file:///etc/passwd").is_err());
        assert!(check("gopher://example.com/").is_err());
    }
}
