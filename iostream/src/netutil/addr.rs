//! Address families and IP literals.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// Which address families to use, as Tornado's `socket.AF_UNSPEC / AF_INET / AF_INET6`.
///
/// ```
/// use std::net::SocketAddr;
/// use tornado_iostream::netutil::AddressFamily;
///
/// let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
/// let v6: SocketAddr = "[::1]:80".parse().unwrap();
/// // Unless told otherwise, both families.
/// assert_eq!(AddressFamily::default(), AddressFamily::Unspec);
/// assert_eq!(AddressFamily::of(&v6), AddressFamily::Inet6);
/// let only_v4: Vec<SocketAddr> =
///     [v6, v4].into_iter().filter(|a| AddressFamily::Inet.matches(a)).collect();
/// assert_eq!(only_v4, vec![v4]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AddressFamily {
    /// Both IPv4 and IPv6.
    #[default]
    Unspec,
    /// IPv4 only.
    Inet,
    /// IPv6 only.
    Inet6,
}

impl AddressFamily {
    /// True when `addr` belongs to this family (always true for `Unspec`).
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use tornado_iostream::netutil::AddressFamily;
    ///
    /// let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
    /// let v6: SocketAddr = "[::1]:80".parse().unwrap();
    /// assert!(AddressFamily::Unspec.matches(&v4) && AddressFamily::Unspec.matches(&v6));
    /// assert!(AddressFamily::Inet.matches(&v4) && !AddressFamily::Inet.matches(&v6));
    /// assert!(AddressFamily::Inet6.matches(&v6) && !AddressFamily::Inet6.matches(&v4));
    /// ```
    pub fn matches(self, addr: &SocketAddr) -> bool {
        match self {
            AddressFamily::Unspec => true,
            AddressFamily::Inet => addr.is_ipv4(),
            AddressFamily::Inet6 => addr.is_ipv6(),
        }
    }

    /// The family of `addr`.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use tornado_iostream::netutil::AddressFamily;
    ///
    /// let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
    /// let v6: SocketAddr = "[::1]:443".parse().unwrap();
    /// assert_eq!(AddressFamily::of(&v4), AddressFamily::Inet);
    /// assert_eq!(AddressFamily::of(&v6), AddressFamily::Inet6);
    /// // A family always matches the addresses it was taken from.
    /// assert!(AddressFamily::of(&v6).matches(&v6));
    /// ```
    pub fn of(addr: &SocketAddr) -> AddressFamily {
        if addr.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        }
    }
}

/// True if `ip` is a well-formed IPv4 or IPv6 address (an IPv6 address may carry a
/// `%zone` suffix). Host names, surrounding spaces and empty strings are not.
///
/// ```
/// use tornado_iostream::netutil::is_valid_ip;
///
/// assert!(is_valid_ip("127.0.0.1"));
/// assert!(is_valid_ip("2620:0:1cfe:face:b00c::3"));
/// assert!(!is_valid_ip("localhost"));
/// assert!(!is_valid_ip(" 127.0.0.1"));
/// ```
pub fn is_valid_ip(ip: &str) -> bool {
    parse_ip(ip).is_some()
}

/// Parses an IP literal; an IPv6 zone (`fe80::1%eth0`) is accepted and dropped.
pub(crate) fn parse_ip(ip: &str) -> Option<IpAddr> {
    if let Ok(a) = ip.parse::<IpAddr>() {
        return Some(a);
    }
    let (addr, zone) = ip.split_once('%')?;
    if zone.is_empty()
        || !zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return None;
    }
    addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}
