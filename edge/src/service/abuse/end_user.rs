//! The end user's address. A tenant calls from its backend, so the client address the edge sees
//! is the tenant's server, shared by all of its users. When the tenant passes the end user's own
//! address (`X-End-User-IP`, or a body field, as Twilio's `DeviceIp`), the per-address limit and
//! the fraud guard apply to it instead.
//!
//! IPv6 addresses are taken by their /64 (one subscriber's network: a user picks any address in
//! it). The fraud guard keys an address by a keyed hash (`Secrets::end_user_tag`), and shows it
//! masked (`203.0.113.*`); the address itself is never stored.

use std::net::IpAddr;

use crate::error::{Error, ErrorCode};
use crate::platform::fraud::Watched;

use crate::service::secrets::Secrets;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndUser {
    /// The address as limits count it: IPv4 as given, IPv6 as its /64.
    pub network: String,
    /// For admins: the IPv4 address without its last byte, or the /64.
    pub masked: String,
}

/// Parses an end user's address (`203.0.113.7`, `2001:db8::1`); `validation_failed` otherwise.
pub fn parse(raw: &str) -> Result<EndUser, Error> {
    let ip: IpAddr = raw.trim().parse().map_err(|_| {
        Error::msg(
            ErrorCode::ValidationFailed,
            "end_user_ip must be an IPv4 or IPv6 address",
        )
    })?;
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    Ok(match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            EndUser {
                network: v4.to_string(),
                masked: format!("{}.{}.{}.*", o[0], o[1], o[2]),
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]);
            EndUser {
                network: net.clone(),
                masked: net,
            }
        }
    })
}

impl EndUser {
    /// The per-address limit's key.
    pub fn limit_key(&self) -> String {
        format!("eu:{}", self.network)
    }

    /// What the fraud guard watches for this user, and what a verification remembers of it.
    pub fn watched(&self, secrets: &Secrets) -> Watched {
        Watched {
            key: format!("ip:{}", secrets.end_user_tag(&self.network)),
            label: self.masked.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_is_itself_and_v6_is_its_network() {
        let a = parse(" 203.0.113.7 ").unwrap();
        assert_eq!(
            (a.network.as_str(), a.masked.as_str()),
            ("203.0.113.7", "203.0.113.*")
        );
        assert_eq!(a.limit_key(), "eu:203.0.113.7");
        let b = parse("2001:db8:1:2:aaaa::1").unwrap();
        let c = parse("2001:db8:1:2:bbbb::9").unwrap();
        assert_eq!(b, c);
        assert_eq!(b.network, "2001:db8:1:2::/64");
        assert_eq!(parse("::ffff:203.0.113.7").unwrap(), a);
        assert_eq!(parse("nope").unwrap_err().code, ErrorCode::ValidationFailed);
        assert!(parse("203.0.113.300").is_err());
    }

    #[test]
    fn the_guard_sees_a_keyed_hash_not_the_address() {
        let s = Secrets::derive("a-server-secret-of-32-characters!", None);
        let w = parse("203.0.113.7").unwrap().watched(&s);
        assert!(w.key.starts_with("ip:"));
        assert!(!w.key.contains("203.0.113"));
        assert_eq!(w.label, "203.0.113.*");
    }
}
