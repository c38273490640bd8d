//! The outbound guard: which destination addresses an outbound request may reach when the
//! operator opts in ([`Outbound::PublicOnly`](super::Outbound::PublicOnly)). The classifier is
//! pure; [`Resolver`] applies it after DNS resolution, and [`check_url`] to a URL whose host is
//! an IP literal (reqwest connects to those without asking the resolver).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why an address is not a public destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `169.254.0.0/16` (where clouds serve instance metadata, `169.254.169.254`), `fe80::/10`.
    LinkLocal,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), unique-local `fc00::/7`, site-local
    /// `fec0::/10`.
    Private,
    /// Carrier-grade NAT's shared address space, `100.64.0.0/10`.
    SharedAddressSpace,
    /// `0.0.0.0/8` ("this network"), `::`.
    Unspecified,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `240.0.0.0/4`, reserved for future use.
    Reserved,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Class::Loopback => "loopback",
            Class::LinkLocal => "link-local (cloud metadata)",
            Class::Private => "private",
            Class::SharedAddressSpace => "shared (carrier-grade NAT, 100.64.0.0/10)",
            Class::Unspecified => "unspecified",
            Class::Multicast => "multicast",
            Class::Broadcast => "broadcast",
            Class::Reserved => "reserved",
        })
    }
}

/// The class that keeps `ip` from being a public destination, or `None` for a public address.
/// IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::`) are judged by that address.
pub fn classify(ip: IpAddr) -> Option<Class> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Class> {
    let [a, b, ..] = ip.octets();
    if a == 0 {
        Some(Class::Unspecified)
    } else if ip.is_loopback() {
        Some(Class::Loopback)
    } else if ip.is_private() {
        Some(Class::Private)
    } else if ip.is_link_local() {
        Some(Class::LinkLocal)
    } else if a == 100 && b & 0xc0 == 64 {
        Some(Class::SharedAddressSpace)
    } else if ip.is_broadcast() {
        Some(Class::Broadcast)
    } else if ip.is_multicast() {
        Some(Class::Multicast)
    } else if a >= 240 {
        Some(Class::Reserved)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Class> {
    if ip.is_unspecified() {
        return Some(Class::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Class::Loopback);
    }
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let first = ip.segments()[0];
    if first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfec0 {
        Some(Class::Private)
    } else if first & 0xffc0 == 0xfe80 {
        Some(Class::LinkLocal)
    } else if ip.is_multicast() {
        Some(Class::Multicast)
    } else {
        None
    }
}

/// The IPv4 address an IPv6 address stands for, in the forms that reach it.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // IPv4-mapped `::ffff:a.b.c.d`.
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        // IPv4-compatible `::a.b.c.d` (deprecated; `::` and `::1` were handled before).
        [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        // NAT64's well-known prefix `64:ff9b::/96`.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        // 6to4 `2002:aabb:ccdd::/48`.
        [0x2002, high, low16, ..] => Some(Ipv4Addr::new(
            (high >> 8) as u8,
            high as u8,
            (low16 >> 8) as u8,
            low16 as u8,
        )),
        _ => None,
    }
}

/// A destination the guard refused: the host as the request named it and the address it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the outbound guard (WARDEN_OUTBOUND_GUARD=private) refused `{host}`: {address} is a {class} address"
)]
pub struct Refused {
    /// The URL's host (a name or an IP literal), never the rest of the URL.
    pub host: String,
    /// The address it is or resolved to.
    pub address: IpAddr,
    /// Why it is not public.
    pub class: Class,
}

/// Refuses a URL whose host is a non-public IP literal. `url` has normalised the host already
/// (`0x7f000001`, `2130706433` and `127.1` are `127.0.0.1`). Names are left to [`Resolver`].
pub fn check_url(url: &reqwest::Url) -> Result<(), Refused> {
    let Some(host) = url.host_str() else {
        return Ok(());
    };
    // An IPv6 literal keeps its brackets; a name never parses as an address (`url` would have
    // made it one).
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    let Ok(address) = bare.unwrap_or(host).parse::<IpAddr>() else {
        return Ok(());
    };
    match classify(address) {
        Some(class) => Err(Refused {
            host: host.to_owned(),
            address,
            class,
        }),
        None => Ok(()),
    }
}

/// The addresses of `host` that are public; when there are none but some were refused, the
/// first refusal.
fn keep_public(host: &str, addresses: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refused> {
    let mut refused = None;
    let public: Vec<SocketAddr> = addresses
        .into_iter()
        .filter(|address| match classify(address.ip()) {
            Some(class) => {
                refused.get_or_insert(Refused {
                    host: host.to_owned(),
                    address: address.ip(),
                    class,
                });
                false
            }
            None => true,
        })
        .collect();
    match refused {
        Some(refused) if public.is_empty() => Err(refused),
        _ => Ok(public),
    }
}

/// The guarded clients' DNS: the system resolver (as reqwest's default), then only the public
/// addresses; a name with none fails to connect with [`Refused`]. Checked at every connection,
/// redirects included, so a name that changes its answer (DNS rebinding) is caught where it
/// connects.
#[derive(Debug, Clone, Copy, Default)]
pub struct Resolver;

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public = keep_public(&host, addresses)?;
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The guard's refusal somewhere in `error`'s sources (the resolver's error, wrapped by the
/// connector and reqwest).
pub fn refusal(error: &(dyn std::error::Error + 'static)) -> Option<Refused> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(refused) = error.downcast_ref::<Refused>() {
            return Some(refused.clone());
        }
        current = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> Option<Class> {
        classify(text.parse().unwrap())
    }

    #[test]
    fn loopback_addresses_are_refused() {
        assert_eq!(class("127.0.0.1"), Some(Class::Loopback));
        assert_eq!(class("127.255.1.2"), Some(Class::Loopback));
        assert_eq!(class("::1"), Some(Class::Loopback));
    }

    #[test]
    fn link_local_addresses_and_cloud_metadata_are_refused() {
        assert_eq!(class("169.254.169.254"), Some(Class::LinkLocal));
        assert_eq!(class("169.254.0.1"), Some(Class::LinkLocal));
        assert_eq!(class("fe80::1"), Some(Class::LinkLocal));
        assert_eq!(class("febf::1"), Some(Class::LinkLocal));
    }

    #[test]
    fn private_ranges_are_refused() {
        for private in [
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "fc00::1",
            "fd12:3456::1",
            "fec0::1",
        ] {
            assert_eq!(class(private), Some(Class::Private), "{private}");
        }
        assert_eq!(class("172.15.255.255"), None);
        assert_eq!(class("172.32.0.0"), None);
    }

    #[test]
    fn shared_address_space_is_refused_and_its_neighbours_are_not() {
        assert_eq!(class("100.64.0.1"), Some(Class::SharedAddressSpace));
        assert_eq!(class("100.127.255.255"), Some(Class::SharedAddressSpace));
        assert_eq!(class("100.63.255.255"), None);
        assert_eq!(class("100.128.0.0"), None);
    }

    #[test]
    fn unspecified_multicast_broadcast_and_reserved_are_refused() {
        assert_eq!(class("0.0.0.0"), Some(Class::Unspecified));
        assert_eq!(class("0.1.2.3"), Some(Class::Unspecified));
        assert_eq!(class("::"), Some(Class::Unspecified));
        assert_eq!(class("224.0.0.1"), Some(Class::Multicast));
        assert_eq!(class("239.255.255.250"), Some(Class::Multicast));
        assert_eq!(class("ff02::1"), Some(Class::Multicast));
        assert_eq!(class("255.255.255.255"), Some(Class::Broadcast));
        assert_eq!(class("240.0.0.1"), Some(Class::Reserved));
    }

    #[test]
    fn ipv6_forms_of_ipv4_addresses_are_judged_by_the_ipv4_address() {
        assert_eq!(class("::ffff:127.0.0.1"), Some(Class::Loopback));
        assert_eq!(class("::ffff:169.254.169.254"), Some(Class::LinkLocal));
        assert_eq!(class("::ffff:10.1.2.3"), Some(Class::Private));
        assert_eq!(class("::ffff:100.64.0.1"), Some(Class::SharedAddressSpace));
        assert_eq!(class("::ffff:0.0.0.0"), Some(Class::Unspecified));
        assert_eq!(class("::127.0.0.1"), Some(Class::Loopback));
        assert_eq!(class("64:ff9b::a9fe:a9fe"), Some(Class::LinkLocal));
        assert_eq!(class("2002:7f00:1::"), Some(Class::Loopback));
        assert_eq!(class("::ffff:8.8.8.8"), None);
        assert_eq!(class("64:ff9b::808:808"), None);
    }

    #[test]
    fn public_addresses_are_allowed() {
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "100.128.0.1",
            "169.253.255.255",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
        ] {
            assert_eq!(class(public), None, "{public}");
        }
    }

    #[test]
    fn ip_literal_hosts_are_checked_after_url_normalisation() {
        for (url, address) in [
            ("http://127.0.0.1:8080/x", "127.0.0.1"),
            ("http://0x7f000001/", "127.0.0.1"),
            ("http://2130706433/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
            (
                "https://169.254.169.254/latest/meta-data/",
                "169.254.169.254",
            ),
            ("http://[::1]:9/", "::1"),
        ] {
            let refused = check_url(&url.parse().unwrap()).expect_err(url);
            assert_eq!(refused.address, address.parse::<IpAddr>().unwrap(), "{url}");
        }
        assert!(check_url(&"https://8.8.8.8/".parse().unwrap()).is_ok());
        assert!(
            check_url(&"https://localhost/".parse().unwrap()).is_ok(),
            "names go to DNS"
        );
    }

    #[test]
    fn a_name_keeps_its_public_addresses_and_is_refused_with_none() {
        let socket = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 0);
        let kept = keep_public("mixed", vec![socket("127.0.0.1"), socket("8.8.8.8")]).unwrap();
        assert_eq!(kept, vec![socket("8.8.8.8")]);
        let refused = keep_public("localhost", vec![socket("::1"), socket("127.0.0.1")])
            .expect_err("only loopback");
        assert_eq!(refused.class, Class::Loopback);
        assert_eq!(
            refused.to_string(),
            "the outbound guard (WARDEN_OUTBOUND_GUARD=private) refused `localhost`: ::1 is a loopback address"
        );
    }

    #[test]
    fn a_refusal_is_found_among_an_error_s_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("connect failed")]
        struct Wrapper(#[source] Refused);
        let refused = Refused {
            host: "x".into(),
            address: "10.0.0.1".parse().unwrap(),
            class: Class::Private,
        };
        assert_eq!(refusal(&Wrapper(refused.clone())), Some(refused));
        assert_eq!(refusal(&std::fmt::Error), None);
    }
}
