//! A small DNS stub resolver, for where the C library's cannot work: a static (musl) binary on
//! Android finds no `/etc/resolv.conf` (Android resolves through its own daemon), so musl would ask
//! 127.0.0.1 and fail. This asks the name servers it is given (Termux's `$PREFIX/etc/resolv.conf`,
//! or public ones) for A and AAAA records over UDP, the way a stub resolver does: recursion desired,
//! a random id per query, answers only from the server asked and only for the question sent.

use rand::Rng;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;

/// Public resolvers for a phone with no resolver configuration at all (Cloudflare's, Google's).
pub const FALLBACK: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1)),
    IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
];

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// The `nameserver` lines of a resolv.conf (comments and other options ignored; an IPv6 zone is
/// dropped: the socket cannot name it).
pub fn nameservers_in(resolv_conf: &str) -> Vec<IpAddr> {
    resolv_conf
        .lines()
        .map(|l| l.split(['#', ';']).next().unwrap_or(""))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            match (words.next(), words.next()) {
                (Some("nameserver"), Some(addr)) => addr.split('%').next()?.parse().ok(),
                _ => None,
            }
        })
        .collect()
}

/// Asks `servers` in turn; each gets `attempts` tries of `timeout`.
#[derive(Clone, Debug)]
pub struct StubResolver {
    servers: Arc<Vec<SocketAddr>>,
    timeout: Duration,
    attempts: u32,
}

/// What one server said about one question.
#[derive(Debug, PartialEq)]
enum Answer {
    Addresses(Vec<IpAddr>),
    /// The name does not exist (authoritative: no point asking another server).
    NoSuchName,
}

impl StubResolver {
    pub fn new(servers: Vec<SocketAddr>) -> StubResolver {
        StubResolver {
            servers: Arc::new(servers),
            timeout: Duration::from_secs(3),
            attempts: 2,
        }
    }

    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// The addresses of `host`, IPv4 first.
    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let host = host.trim_end_matches('.');
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        if host.eq_ignore_ascii_case("localhost") {
            return Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        }
        let mut last = format!("no name server to ask for {host}");
        for server in self.servers.iter() {
            for _ in 0..self.attempts {
                let (a, aaaa) = tokio::join!(
                    self.ask(*server, host, TYPE_A),
                    self.ask(*server, host, TYPE_AAAA)
                );
                if matches!(a, Ok(Answer::NoSuchName)) || matches!(aaaa, Ok(Answer::NoSuchName)) {
                    return Err(format!("{host}: no such name ({server})"));
                }
                let (mut ips, mut failed) = (Vec::new(), None);
                for answer in [a, aaaa] {
                    match answer {
                        Ok(Answer::Addresses(found)) => ips.extend(found),
                        Ok(Answer::NoSuchName) => {}
                        Err(e) => failed = Some(e),
                    }
                }
                match failed {
                    _ if !ips.is_empty() => return Ok(ips),
                    // both answered, with no address: asking again changes nothing
                    None => return Err(format!("{host}: no address ({server})")),
                    Some(e) => last = format!("{host}: {e} ({server})"),
                }
            }
        }
        Err(last)
    }

    async fn ask(&self, server: SocketAddr, host: &str, qtype: u16) -> Result<Answer, String> {
        let id: u16 = rand::thread_rng().gen();
        let q = query(host, qtype, id)?;
        let local: SocketAddr = if server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
        // connect: the kernel drops datagrams from anyone but the server asked
        sock.connect(server).await.map_err(|e| e.to_string())?;
        sock.send(&q).await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 1500];
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let n = tokio::time::timeout_at(deadline, sock.recv(&mut buf))
                .await
                .map_err(|_| "timed out".to_string())?
                .map_err(|e| e.to_string())?;
            // a stray or forged datagram is skipped, not believed
            if let Some(answer) = parse(&buf[..n], id, &q[12..], qtype)? {
                return Ok(answer);
            }
        }
    }
}

impl reqwest::dns::Resolve for StubResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let me = self.clone();
        Box::pin(async move {
            let ips = me.lookup(name.as_str()).await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// A recursive query for `host` of `qtype`.
fn query(host: &str, qtype: u16, id: u16) -> Result<Vec<u8>, String> {
    if host.is_empty() || host.len() > 253 {
        return Err(format!("not a host name: {host:?}"));
    }
    let mut q = Vec::with_capacity(18 + host.len());
    q.extend(id.to_be_bytes());
    q.extend([0x01, 0x00]); // recursion desired
    q.extend([0, 1, 0, 0, 0, 0, 0, 0]); // one question
    for label in host.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("not a host name: {host:?}"));
        }
        q.push(label.len() as u8);
        q.extend(label.as_bytes());
    }
    q.push(0);
    q.extend(qtype.to_be_bytes());
    q.extend(CLASS_IN.to_be_bytes());
    Ok(q)
}

/// The answer in `resp` to the query `id` with `question` (its wire form), or None when `resp`
/// answers something else.
fn parse(resp: &[u8], id: u16, question: &[u8], qtype: u16) -> Result<Option<Answer>, String> {
    let be16 = |i: usize| -> Result<u16, String> {
        resp.get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "short answer".to_string())
    };
    if resp.len() < 12 || be16(0)? != id || resp[2] & 0x80 == 0 {
        return Ok(None);
    }
    // the question must come back as it was asked (names compare case-insensitively)
    let echoed = match resp.get(12..12 + question.len()) {
        Some(q) if be16(4)? == 1 && q.eq_ignore_ascii_case(question) => q,
        _ => return Ok(None),
    };
    let rcode = resp[3] & 0x0f;
    match rcode {
        0 => {}
        3 => return Ok(Some(Answer::NoSuchName)),
        _ => return Err(format!("server answered rcode {rcode}")),
    }
    let answers = be16(6)?;
    let mut i = 12 + echoed.len();
    let mut ips = Vec::new();
    for _ in 0..answers {
        i = skip_name(resp, i)?;
        let (rtype, class, len) = (be16(i)?, be16(i + 2)?, be16(i + 8)? as usize);
        let data = resp.get(i + 10..i + 10 + len).ok_or("short answer")?;
        match (rtype, class, len) {
            (TYPE_A, CLASS_IN, 4) if qtype == TYPE_A => {
                ips.push(IpAddr::from(<[u8; 4]>::try_from(data).unwrap()))
            }
            (TYPE_AAAA, CLASS_IN, 16) if qtype == TYPE_AAAA => {
                ips.push(IpAddr::from(<[u8; 16]>::try_from(data).unwrap()))
            }
            _ => {} // CNAME and the like: the addresses follow in the same answer
        }
        i += 10 + len;
    }
    if ips.is_empty() && resp[2] & 0x02 != 0 {
        return Err("truncated answer".into());
    }
    Ok(Some(Answer::Addresses(ips)))
}

/// The offset after the (possibly compressed) name at `i`.
fn skip_name(resp: &[u8], mut i: usize) -> Result<usize, String> {
    loop {
        let len = *resp.get(i).ok_or("short answer")? as usize;
        match len {
            0 => return Ok(i + 1),
            l if l & 0xc0 == 0xc0 => return Ok(i + 2),
            l if l & 0xc0 != 0 => return Err("bad label".into()),
            l => i += 1 + l,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer as a recursive resolver sends it: the question, then `records` (type, data)
    /// owned by a compression pointer to the question's name.
    pub(crate) fn answer(q: &[u8], rcode: u8, records: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut r = q.to_vec();
        r[2] = 0x81;
        r[3] = 0x80 | rcode;
        r[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
        for (rtype, data) in records {
            r.extend([0xc0, 12]);
            r.extend(rtype.to_be_bytes());
            r.extend(CLASS_IN.to_be_bytes());
            r.extend(300u32.to_be_bytes());
            r.extend((data.len() as u16).to_be_bytes());
            r.extend(data);
        }
        r
    }

    #[test]
    fn resolv_conf_nameservers_are_read_and_junk_ignored() {
        let text = "# Termux\nnameserver 8.8.8.8\n  nameserver   2001:4860:4860::8888 \nnameserver fe80::1%wlan0\nsearch lan\nnameserver not-an-ip\n; nameserver 9.9.9.9\noptions ndots:1\n";
        let want: Vec<IpAddr> = ["8.8.8.8", "2001:4860:4860::8888", "fe80::1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(nameservers_in(text), want);
        assert!(nameservers_in("").is_empty());
    }

    #[test]
    fn a_query_is_a_recursive_question_in_wire_form() {
        let q = query("edge.example.com", TYPE_A, 0xbeef).unwrap();
        assert_eq!(&q[..4], &[0xbe, 0xef, 0x01, 0x00]);
        assert_eq!(&q[12..], b"\x04edge\x07example\x03com\x00\x00\x01\x00\x01");
        assert!(query("a..b", TYPE_A, 1).is_err());
        assert!(query(&"x".repeat(64), TYPE_A, 1).is_err());
    }

    #[test]
    fn answers_are_read_past_cnames_and_only_for_the_question_asked() {
        let q = query("edge.example.com", TYPE_A, 7).unwrap();
        let r = answer(
            &q,
            0,
            &[
                (5, b"\x03cdn\xc0\x11".to_vec()),
                (TYPE_A, vec![192, 0, 2, 1]),
                (TYPE_AAAA, vec![0; 16]),
            ],
        );
        assert_eq!(
            parse(&r, 7, &q[12..], TYPE_A).unwrap(),
            Some(Answer::Addresses(vec!["192.0.2.1".parse().unwrap()]))
        );
        // another id, a query (not an answer), another question: not ours
        assert_eq!(parse(&r, 8, &q[12..], TYPE_A).unwrap(), None);
        assert_eq!(parse(&q, 7, &q[12..], TYPE_A).unwrap(), None);
        let other = query("evil.example.com", TYPE_A, 7).unwrap();
        assert_eq!(parse(&r, 7, &other[12..], TYPE_A).unwrap(), None);
        // the name does not exist; the server failed; garbage
        assert_eq!(
            parse(&answer(&q, 3, &[]), 7, &q[12..], TYPE_A).unwrap(),
            Some(Answer::NoSuchName)
        );
        assert!(parse(&answer(&q, 2, &[]), 7, &q[12..], TYPE_A).is_err());
        let mut cut = r.clone();
        cut.truncate(r.len() - 3);
        assert!(parse(&cut, 7, &q[12..], TYPE_A).is_err());
    }

    #[tokio::test]
    async fn ip_literals_and_localhost_need_no_server() {
        let r = StubResolver::new(vec![]);
        assert_eq!(
            r.lookup("127.0.0.1").await.unwrap(),
            vec![IpAddr::from([127, 0, 0, 1])]
        );
        assert_eq!(
            r.lookup("[::1]").await.unwrap(),
            vec![IpAddr::from(Ipv6Addr::LOCALHOST)]
        );
        assert_eq!(
            r.lookup("localhost").await.unwrap(),
            vec![IpAddr::from([127, 0, 0, 1])]
        );
        assert!(r.lookup("edge.example.com").await.is_err());
    }
}
