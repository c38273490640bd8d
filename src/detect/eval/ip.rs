//! IP address conditions: what counts as private or public, and CIDR ranges.
//!
//! Panther's rules were ported from Python's `ipaddress`, so "private" and "public" follow
//! Python 3.13's `is_private` and `is_global` (the IANA special-purpose registries): private is
//! RFC 1918 and also loopback, link-local, documentation, benchmarking and reserved ranges; public
//! means globally reachable, so the shared `100.64.0.0/10` range is neither.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A CIDR range such as `10.0.0.0/8` or `2001:db8::/32`; a bare address is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `address/prefix` or a bare address. Host bits below the prefix are ignored.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.trim(), Some(p.trim())),
            None => (text.trim(), None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("`{address}` is not an IP address"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix =
            match prefix {
                None => max,
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                    format!("`/{p}` is not a prefix length between /0 and /{max}")
                })?,
            };
        Ok(Cidr { network, prefix })
    }

    /// Whether `ip` is in the range. An IPv4 address is never in an IPv6 range, nor the reverse.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => in_v4(ip, u32::from(net), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => in_v6(ip, u128::from(net), self.prefix),
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn in_v4(ip: Ipv4Addr, network: u32, prefix: u8) -> bool {
    prefix == 0 || (u32::from(ip) ^ network) >> (32 - u32::from(prefix)) == 0
}

fn in_v6(ip: Ipv6Addr, network: u128, prefix: u8) -> bool {
    prefix == 0 || (u128::from(ip) ^ network) >> (128 - u32::from(prefix)) == 0
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

/// Python 3.13 `IPv4Address._private_networks`.
const PRIVATE_V4: &[(u32, u8)] = &[
    (v4(0, 0, 0, 0), 8),
    (v4(10, 0, 0, 0), 8),
    (v4(127, 0, 0, 0), 8),
    (v4(169, 254, 0, 0), 16),
    (v4(172, 16, 0, 0), 12),
    (v4(192, 0, 0, 0), 24),
    (v4(192, 0, 0, 170), 31),
    (v4(192, 0, 2, 0), 24),
    (v4(192, 168, 0, 0), 16),
    (v4(198, 18, 0, 0), 15),
    (v4(198, 51, 100, 0), 24),
    (v4(203, 0, 113, 0), 24),
    (v4(240, 0, 0, 0), 4),
    (v4(255, 255, 255, 255), 32),
];

/// Python 3.13 `_private_networks_exceptions`: globally reachable despite the ranges above.
const PRIVATE_V4_EXCEPTIONS: &[(u32, u8)] = &[(v4(192, 0, 0, 9), 32), (v4(192, 0, 0, 10), 32)];

/// RFC 6598 shared address space: neither private nor global.
const SHARED_V4: (u32, u8) = (v4(100, 64, 0, 0), 10);

/// Python 3.13 `IPv6Address._private_networks`.
const PRIVATE_V6: &[(u128, u8)] = &[
    (0x0000_0000_0000_0000_0000_0000_0000_0001, 128), // ::1
    (0, 128),                                         // ::
    (0x0000_0000_0000_0000_0000_ffff_0000_0000, 96),  // ::ffff:0:0/96
    (0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48),  // 64:ff9b:1::/48
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64),  // 100::/64
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 23),  // 2001::/23
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32),  // 2001:db8::/32
    (0x2002_0000_0000_0000_0000_0000_0000_0000, 16),  // 2002::/16
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7),   // fc00::/7
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10),  // fe80::/10
];

/// Python 3.13 IPv6 `_private_networks_exceptions`.
const PRIVATE_V6_EXCEPTIONS: &[(u128, u8)] = &[
    (0x2001_0001_0000_0000_0000_0000_0000_0001, 128), // 2001:1::1
    (0x2001_0001_0000_0000_0000_0000_0000_0002, 128), // 2001:1::2
    (0x2001_0003_0000_0000_0000_0000_0000_0000, 32),  // 2001:3::/32
    (0x2001_0004_0112_0000_0000_0000_0000_0000, 48),  // 2001:4:112::/48
    (0x2001_0020_0000_0000_0000_0000_0000_0000, 28),  // 2001:20::/28
    (0x2001_0030_0000_0000_0000_0000_0000_0000, 28),  // 2001:30::/28
];

/// Python's `ip_address(x).is_private`.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let within = |nets: &[(u32, u8)]| nets.iter().any(|(n, p)| in_v4(ip, *n, *p));
            within(PRIVATE_V4) && !within(PRIVATE_V4_EXCEPTIONS)
        }
        IpAddr::V6(ip) => {
            if let Some(mapped) = ip.to_ipv4_mapped() {
                return is_private(IpAddr::V4(mapped));
            }
            let within = |nets: &[(u128, u8)]| nets.iter().any(|(n, p)| in_v6(ip, *n, *p));
            within(PRIVATE_V6) && !within(PRIVATE_V6_EXCEPTIONS)
        }
    }
}

/// Python's `ip_address(x).is_global`: globally reachable.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !in_v4(v4, SHARED_V4.0, SHARED_V4.1) && !is_private(ip),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(mapped) => is_global(IpAddr::V4(mapped)),
            None => !is_private(ip),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn private_follows_python_ipaddress() {
        for private in [
            "10.0.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "192.0.2.5",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private(ip(private)), "{private} is private");
            assert!(!is_global(ip(private)), "{private} is not global");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "194.88.246.242",
            "2606:4700::1111",
            "192.0.0.9",
        ] {
            assert!(!is_private(ip(public)), "{public} is not private");
            assert!(is_global(ip(public)), "{public} is global");
        }
        assert!(!is_private(ip("100.64.0.1")));
        assert!(!is_global(ip("100.64.0.1")));
    }

    #[test]
    fn cidr_ranges_contain_their_addresses_only() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(ip("10.255.1.2")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::ffff:10.0.0.1")));
        let host_bits = Cidr::parse("192.168.1.77/24").unwrap();
        assert!(host_bits.contains(ip("192.168.1.1")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:1::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        let single = Cidr::parse("1.2.3.4").unwrap();
        assert!(single.contains(ip("1.2.3.4")) && !single.contains(ip("1.2.3.5")));
        assert_eq!(single.to_string(), "1.2.3.4/32");
    }

    #[test]
    fn malformed_cidr_ranges_are_rejected() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "x/8",
            "::/129",
            "10.0.0.0/-1",
            "",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad} parsed");
        }
    }
}
