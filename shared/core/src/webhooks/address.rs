//! Which addresses a webhook may be delivered to. A receiver on the public internet only:
//! never loopback, private (RFC 1918), link-local (the cloud's metadata service lives
//! there), unique-local, CGNAT, multicast, unspecified, documentation or reserved ranges,
//! nor an IPv4 address wrapped in IPv6. The check runs on every address a host resolves to
//! at delivery time, and the connection goes to the address checked (see `deliver`), so a
//! name that later resolves elsewhere cannot slip past it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not a public one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Public,
    Loopback,
    Private,
    LinkLocal,
    UniqueLocal,
    SharedCgnat,
    Multicast,
    Unspecified,
    /// Documentation, benchmarking, broadcast, "this network" and the other reserved ranges.
    Reserved,
}

impl AddressClass {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::Public => "public",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local",
            AddressClass::UniqueLocal => "unique-local",
            AddressClass::SharedCgnat => "shared (CGNAT)",
            AddressClass::Multicast => "multicast",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Reserved => "reserved",
        }
    }
}

pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if a == 127 {
        AddressClass::Loopback
    } else if a == 10 || (a == 172 && (16..=31).contains(&b)) || (a == 192 && b == 168) {
        AddressClass::Private
    } else if a == 169 && b == 254 {
        AddressClass::LinkLocal
    } else if a == 100 && (64..=127).contains(&b) {
        AddressClass::SharedCgnat
    } else if (224..=239).contains(&a) {
        AddressClass::Multicast
    } else if a == 0
        || a >= 240
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 198 && (18..=19).contains(&b))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || (a == 192 && b == 88 && c == 99)
    {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if s[0] & 0xffc0 == 0xfe80 {
        AddressClass::LinkLocal
    } else if s[0] & 0xfe00 == 0xfc00 {
        AddressClass::UniqueLocal
    } else if s[0] & 0xff00 == 0xff00 {
        AddressClass::Multicast
    } else if s[0] & 0xffc0 == 0xfec0 // site-local (deprecated, still private)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64: an IPv4 address in disguise
        || (s[0] == 0x2002) // 6to4: likewise
        || (s[0] == 0x2001 && s[1] == 0) // Teredo
        || s[0] == 0x0100 // discard-only
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0)
    // IPv4-compatible (deprecated)
    {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

/// Whether a webhook may be sent to `ip`: public addresses only, unless the local stack
/// allows private ones (`WEBHOOK_ALLOW_PRIVATE`).
pub fn allowed(ip: IpAddr, allow_private: bool) -> Result<(), AddressClass> {
    match classify(ip) {
        AddressClass::Public => Ok(()),
        _ if allow_private => Ok(()),
        class => Err(class),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn addresses_are_classified() {
        for (ip, want) in [
            ("8.8.8.8", AddressClass::Public),
            ("1.1.1.1", AddressClass::Public),
            ("172.32.0.1", AddressClass::Public),
            ("100.128.0.1", AddressClass::Public),
            ("2606:4700::1111", AddressClass::Public),
            ("127.0.0.1", AddressClass::Loopback),
            ("127.255.255.254", AddressClass::Loopback),
            ("::1", AddressClass::Loopback),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("10.0.0.1", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("172.31.255.255", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("::ffff:192.168.1.1", AddressClass::Private),
            ("169.254.169.254", AddressClass::LinkLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("fd00:ec2::254", AddressClass::UniqueLocal),
            ("fc00::1", AddressClass::UniqueLocal),
            ("100.64.0.1", AddressClass::SharedCgnat),
            ("100.127.255.255", AddressClass::SharedCgnat),
            ("224.0.0.1", AddressClass::Multicast),
            ("ff02::1", AddressClass::Multicast),
            ("0.0.0.0", AddressClass::Unspecified),
            ("::", AddressClass::Unspecified),
            ("255.255.255.255", AddressClass::Reserved),
            ("192.0.2.1", AddressClass::Reserved),
            ("0.1.2.3", AddressClass::Reserved),
            ("64:ff9b::7f00:1", AddressClass::Reserved),
            ("2002:7f00:1::", AddressClass::Reserved),
            ("::127.0.0.1", AddressClass::Reserved),
        ] {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn only_public_addresses_are_allowed_unless_private_ones_are() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let meta: IpAddr = "169.254.169.254".parse().unwrap();
        let public: IpAddr = "93.184.215.14".parse().unwrap();
        assert_eq!(allowed(lo, false), Err(AddressClass::Loopback));
        assert_eq!(allowed(meta, false), Err(AddressClass::LinkLocal));
        assert_eq!(allowed(public, false), Ok(()));
        assert_eq!(allowed(lo, true), Ok(()));
    }
}
