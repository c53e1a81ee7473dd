//! Which IP addresses a webhook may be delivered to: global unicast only.
//!
//! Everything a tenant could use to reach the platform's own network is
//! refused: loopback, private (RFC 1918, unique local `fc00::/7`),
//! link-local (`169.254.0.0/16` with the cloud metadata address
//! `169.254.169.254`, `fe80::/10`), the shared CGNAT range
//! `100.64.0.0/10`, unspecified, multicast, broadcast and the other
//! special-purpose ranges that are not globally reachable. An IPv6
//! address that carries an IPv4 one (mapped `::ffff:a.b.c.d`, compatible
//! `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is judged by the
//! IPv4 address inside. The loopback switch allows loopback and nothing
//! else.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressClass {
    /// `127.0.0.0/8`, `::1`: this machine.
    Loopback,
    /// `10/8`, `172.16/12`, `192.168/16`, `fc00::/7` (and the deprecated
    /// site-local `fec0::/10`).
    Private,
    /// `169.254/16` (the cloud metadata address among them), `fe80::/10`.
    LinkLocal,
    /// `100.64.0.0/10`, carrier-grade NAT.
    SharedAddressSpace,
    /// `0.0.0.0/8`, `::`: on Linux, dialing it reaches this machine.
    Unspecified,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// Other special-purpose ranges that are not globally reachable
    /// (documentation, benchmarking, protocol assignments, reserved).
    Reserved,
}

impl AddressClass {
    /// A short name for logs and the delivery log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::SharedAddressSpace => "shared address space (CGNAT)",
            Self::Unspecified => "unspecified",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Reserved => "reserved",
        }
    }
}

impl std::fmt::Display for AddressClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why `ip` may not be dialed, or `None` when it may. With
/// `allow_loopback`, loopback addresses (and only those) may.
pub fn refusal(ip: IpAddr, allow_loopback: bool) -> Option<AddressClass> {
    let class = match ip {
        IpAddr::V4(v4) => class_v4(v4),
        IpAddr::V6(v6) => class_v6(v6),
    };
    match class {
        Some(AddressClass::Loopback) if allow_loopback => None,
        other => other,
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

/// IPv4 special-purpose ranges (IANA's registry) that are not globally
/// reachable, most specific first where they nest.
const V4: &[([u8; 4], u32, AddressClass)] = &[
    ([255, 255, 255, 255], 32, AddressClass::Broadcast),
    ([0, 0, 0, 0], 8, AddressClass::Unspecified),
    ([127, 0, 0, 0], 8, AddressClass::Loopback),
    ([10, 0, 0, 0], 8, AddressClass::Private),
    ([172, 16, 0, 0], 12, AddressClass::Private),
    ([192, 168, 0, 0], 16, AddressClass::Private),
    ([169, 254, 0, 0], 16, AddressClass::LinkLocal),
    ([100, 64, 0, 0], 10, AddressClass::SharedAddressSpace),
    ([224, 0, 0, 0], 4, AddressClass::Multicast),
    ([192, 0, 0, 0], 24, AddressClass::Reserved),
    ([192, 0, 2, 0], 24, AddressClass::Reserved),
    ([192, 88, 99, 0], 24, AddressClass::Reserved),
    ([198, 18, 0, 0], 15, AddressClass::Reserved),
    ([198, 51, 100, 0], 24, AddressClass::Reserved),
    ([203, 0, 113, 0], 24, AddressClass::Reserved),
    ([240, 0, 0, 0], 4, AddressClass::Reserved),
];

fn class_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    V4.iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, class)| *class)
}

fn class_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some(AddressClass::Unspecified);
    }
    if ip.is_loopback() {
        return Some(AddressClass::Loopback);
    }
    // IPv4 inside IPv6: mapped (::ffff:0:0/96), compatible (::/96),
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[..6] == [0, 0, 0, 0, 0, 0xffff] {
        return class_v4(embedded(s[6], s[7]));
    }
    if s[..6] == [0; 6] {
        // IPv4-compatible, deprecated: never a delivery target.
        return Some(class_v4(embedded(s[6], s[7])).unwrap_or(AddressClass::Reserved));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return class_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return class_v4(embedded(s[1], s[2]));
    }
    let first = s[0];
    if first & 0xff00 == 0xff00 {
        Some(AddressClass::Multicast)
    } else if first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfec0 {
        Some(AddressClass::Private)
    } else if first & 0xffc0 == 0xfe80 {
        Some(AddressClass::LinkLocal)
    } else if s[..2] == [0x2001, 0x0db8]
        || s[..4] == [0x0100, 0, 0, 0]
        || s[..3] == [0x64, 0xff9b, 1]
        || s[..2] == [0x2001, 0]
    {
        // Documentation, discard-only, local-use NAT64, Teredo (whose
        // client address is obfuscated, so it cannot be judged).
        Some(AddressClass::Reserved)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::{AddressClass as C, refusal};

    #[test]
    fn only_global_unicast_is_allowed() {
        let cases: &[(&str, Option<C>)] = &[
            ("127.0.0.1", Some(C::Loopback)),
            ("127.255.255.254", Some(C::Loopback)),
            ("10.0.0.1", Some(C::Private)),
            ("172.16.0.1", Some(C::Private)),
            ("172.31.255.255", Some(C::Private)),
            ("192.168.1.1", Some(C::Private)),
            ("169.254.169.254", Some(C::LinkLocal)),
            ("100.64.0.1", Some(C::SharedAddressSpace)),
            ("100.127.255.255", Some(C::SharedAddressSpace)),
            ("0.0.0.0", Some(C::Unspecified)),
            ("0.1.2.3", Some(C::Unspecified)),
            ("224.0.0.1", Some(C::Multicast)),
            ("239.255.255.250", Some(C::Multicast)),
            ("255.255.255.255", Some(C::Broadcast)),
            ("192.0.2.1", Some(C::Reserved)),
            ("198.18.0.1", Some(C::Reserved)),
            ("240.0.0.1", Some(C::Reserved)),
            ("::1", Some(C::Loopback)),
            ("::", Some(C::Unspecified)),
            ("fc00::1", Some(C::Private)),
            ("fd12:3456::1", Some(C::Private)),
            ("fe80::1", Some(C::LinkLocal)),
            ("ff02::1", Some(C::Multicast)),
            ("::ffff:127.0.0.1", Some(C::Loopback)),
            ("::ffff:10.1.2.3", Some(C::Private)),
            ("::ffff:169.254.169.254", Some(C::LinkLocal)),
            ("::127.0.0.1", Some(C::Loopback)),
            ("::8.8.8.8", Some(C::Reserved)),
            ("64:ff9b::a9fe:a9fe", Some(C::LinkLocal)),
            ("2002:7f00:1::", Some(C::Loopback)),
            ("2001:db8::1", Some(C::Reserved)),
            ("2001:0:4136:e378::1", Some(C::Reserved)),
            // Global unicast.
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("172.15.255.255", None),
            ("172.32.0.0", None),
            ("169.253.255.255", None),
            ("2606:4700:4700::1111", None),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::808:808", None),
            ("2002:808:808::", None),
        ];
        for (text, expected) in cases {
            let ip = text.parse().unwrap();
            assert_eq!(refusal(ip, false), *expected, "{text}");
        }
    }

    #[test]
    fn the_switch_allows_loopback_only() {
        for text in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(refusal(text.parse().unwrap(), true), None, "{text}");
        }
        for text in [
            "10.0.0.1",
            "192.168.0.1",
            "169.254.169.254",
            "fd00::1",
            "0.0.0.0",
            "100.64.0.1",
        ] {
            assert!(refusal(text.parse().unwrap(), true).is_some(), "{text}");
        }
    }
}
