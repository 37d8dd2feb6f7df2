//! Which address a request comes from. Behind proxies the connection's peer is the nearest
//! proxy and `X-Forwarded-For` lists the hops before it, each appended by the proxy that
//! received it: only the right-most entries are written by proxies we trust, everything to
//! their left is whatever the client sent. So the client is the right-most address that is
//! not one of our proxies; never the left-most, which any client can forge.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Which proxies in front of PENNY are trusted to append `X-Forwarded-For` (`TRUST_PROXY`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TrustProxy {
    /// No proxy: the connection's peer is the client, `X-Forwarded-For` is ignored.
    #[default]
    None,
    /// This many proxies, the nearest one being the peer (`TRUST_PROXY=2`; `true` is 1).
    Hops(u8),
    /// Proxies are the addresses in these networks (`TRUST_PROXY=10.0.0.0/8,192.0.2.7`).
    Networks(Vec<IpNet>),
}

impl TrustProxy {
    /// Parses `TRUST_PROXY`: `false`/`0`, `true` (one hop), a hop count, or a comma
    /// separated list of CIDRs and addresses.
    pub fn parse(raw: &str) -> Result<TrustProxy, String> {
        let raw = raw.trim();
        match raw.to_ascii_lowercase().as_str() {
            "" | "false" | "no" | "off" | "0" => return Ok(TrustProxy::None),
            "true" | "yes" | "on" => return Ok(TrustProxy::Hops(1)),
            _ => {}
        }
        if let Ok(n) = raw.parse::<u8>() {
            return Ok(TrustProxy::Hops(n));
        }
        let mut nets = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    "true, false, a number of proxy hops (0-255) or a comma-separated list \
                     of CIDRs and addresses"
                        .to_string()
                })?;
            nets.push(net);
        }
        Ok(TrustProxy::Networks(nets))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        match self {
            TrustProxy::Networks(nets) => nets.iter().any(|n| n.contains(&ip)),
            _ => false,
        }
    }

    /// The client's address: `peer` unless it is a trusted proxy, then the right-most
    /// untrusted `X-Forwarded-For` hop. An entry that is not an address ends the walk at
    /// the hop to its right (the proxy that appended it).
    pub fn client_ip(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
        let hops = match self {
            TrustProxy::None => return peer,
            TrustProxy::Hops(0) => return peer,
            TrustProxy::Hops(n) => *n as usize,
            TrustProxy::Networks(_) => usize::MAX,
        };
        let peer = peer?;
        if matches!(self, TrustProxy::Networks(_)) && !self.trusts(peer) {
            return Some(peer);
        }
        // Every X-Forwarded-For header, in order, as one list; read right to left.
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        // The peer is the nearest trusted proxy; each entry taken from the right is the
        // address the proxy to its right received the request from.
        let mut client = peer;
        for (taken, entry) in forwarded.iter().rev().enumerate() {
            if taken >= hops {
                break;
            }
            let Ok(ip) = entry.parse::<IpAddr>() else {
                break;
            };
            client = ip;
            if !matches!(self, TrustProxy::Hops(_)) && !self.trusts(ip) {
                break;
            }
        }
        Some(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_flags_hops_and_networks() {
        assert_eq!(TrustProxy::parse("false").unwrap(), TrustProxy::None);
        assert_eq!(TrustProxy::parse("true").unwrap(), TrustProxy::Hops(1));
        assert_eq!(TrustProxy::parse("2").unwrap(), TrustProxy::Hops(2));
        assert_eq!(
            TrustProxy::parse("10.0.0.0/8, 192.0.2.7").unwrap(),
            TrustProxy::Networks(vec![
                "10.0.0.0/8".parse().unwrap(),
                "192.0.2.7/32".parse().unwrap()
            ])
        );
        assert!(TrustProxy::parse("maybe").is_err());
        assert!(TrustProxy::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn no_proxy_ignores_the_header() {
        let h = headers(&["203.0.113.9"]);
        assert_eq!(
            TrustProxy::None.client_ip(&h, Some(ip("198.51.100.1"))),
            Some(ip("198.51.100.1"))
        );
    }

    #[test]
    fn one_hop_takes_the_right_most_entry_not_the_forged_left_most() {
        let h = headers(&["6.6.6.6, 203.0.113.9"]);
        let peer = Some(ip("10.0.0.2"));
        assert_eq!(
            TrustProxy::Hops(1).client_ip(&h, peer),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(TrustProxy::Hops(2).client_ip(&h, peer), Some(ip("6.6.6.6")));
        // Fewer entries than hops: the left-most there is.
        assert_eq!(TrustProxy::Hops(5).client_ip(&h, peer), Some(ip("6.6.6.6")));
        // Several headers are one list, in order.
        let two = headers(&["6.6.6.6", "203.0.113.9"]);
        assert_eq!(
            TrustProxy::Hops(1).client_ip(&two, peer),
            Some(ip("203.0.113.9"))
        );
        // No header at all: the peer.
        assert_eq!(TrustProxy::Hops(1).client_ip(&HeaderMap::new(), peer), peer);
    }

    #[test]
    fn networks_skip_trusted_hops_from_the_right() {
        let t = TrustProxy::parse("10.0.0.0/8").unwrap();
        let h = headers(&["6.6.6.6, 203.0.113.9, 10.1.1.1"]);
        assert_eq!(
            t.client_ip(&h, Some(ip("10.0.0.2"))),
            Some(ip("203.0.113.9"))
        );
        // A peer that is not a trusted proxy is the client, whatever it claims.
        assert_eq!(
            t.client_ip(&h, Some(ip("198.51.100.1"))),
            Some(ip("198.51.100.1"))
        );
        // Garbage stops the walk at the proxy that appended it.
        let bad = headers(&["not-an-ip, 10.1.1.1"]);
        assert_eq!(
            t.client_ip(&bad, Some(ip("10.0.0.2"))),
            Some(ip("10.1.1.1"))
        );
    }
}
