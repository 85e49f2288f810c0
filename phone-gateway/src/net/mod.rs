//! Outbound HTTP (delivery reports, inbound SMS and anything else the phone sends to the edge) that
//! works on Android too. A static binary there finds neither `/etc/resolv.conf` nor a CA store at the
//! usual paths; Termux keeps both under its prefix (`$PREFIX/etc/resolv.conf`, `$PREFIX/etc/tls/cert.pem`).
//! So: TLS roots are the bundled Mozilla set (webpki-roots, in the binary) plus Termux's bundle or
//! `SSL_CERT_FILE` when there is one; names go through the C library's resolver where it can work,
//! else through [`dns::StubResolver`] asking Termux's name servers, else public ones.

pub mod dns;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tracing::{debug, warn};

/// Termux's prefix when `PREFIX` is not set (a service started by something that did not pass it).
pub const TERMUX_PREFIX: &str = "/data/data/com.termux/files/usr";

/// A reqwest client builder with this system's roots and resolver; callers add their time-outs.
pub fn client_builder() -> reqwest::ClientBuilder {
    client_builder_with(&|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

/// [`client_builder`] with the environment read through `env` (`PREFIX`, `SSL_CERT_FILE`,
/// `PHONE_GATEWAY_DNS`).
pub fn client_builder_with(env: &dyn Fn(&str) -> Option<String>) -> reqwest::ClientBuilder {
    let mut builder = reqwest::Client::builder();
    if let Some(path) = ca_bundle(env) {
        for cert in extra_roots(&path) {
            builder = builder.add_root_certificate(cert);
        }
    }
    let musl = cfg!(target_env = "musl");
    match name_servers(env, Path::new("/etc/resolv.conf").exists(), musl) {
        Ok(Some(servers)) => {
            debug!(
                ?servers,
                "names resolved by the gateway's own stub resolver"
            );
            builder = builder.dns_resolver(Arc::new(dns::StubResolver::new(servers)));
        }
        Ok(None) => {}
        Err(e) => warn!(error = %e, "PHONE_GATEWAY_DNS ignored"),
    }
    builder
}

/// The CA bundle to trust besides the bundled roots: `SSL_CERT_FILE`, else Termux's, if it exists.
pub fn ca_bundle(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(file) = env("SSL_CERT_FILE") {
        return Some(PathBuf::from(file));
    }
    let termux = prefix(env).join("etc/tls/cert.pem");
    termux.exists().then_some(termux)
}

fn prefix(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    PathBuf::from(env("PREFIX").unwrap_or_else(|| TERMUX_PREFIX.into()))
}

/// The certificates in a PEM bundle (none, with a warning, when it cannot be read: the bundled
/// roots still apply).
pub fn extra_roots(path: &Path) -> Vec<reqwest::Certificate> {
    let read = std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|pem| reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string()));
    match read {
        Ok(certs) => certs,
        Err(e) => {
            warn!(path = %path.display(), error = %e, "CA bundle not read; the bundled roots apply");
            Vec::new()
        }
    }
}

/// Where names are resolved. `Some(servers)`: by the stub resolver asking these. `None`: by the
/// C library, which works where `/etc/resolv.conf` exists or the C library is Android's own (a
/// build on the phone). `PHONE_GATEWAY_DNS` (`IP[:port]`, comma-separated) overrides both.
pub fn name_servers(
    env: &dyn Fn(&str) -> Option<String>,
    etc_resolv_conf: bool,
    musl: bool,
) -> Result<Option<Vec<SocketAddr>>, String> {
    if let Some(list) = env("PHONE_GATEWAY_DNS") {
        let servers = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<SocketAddr>()
                    .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                    .map_err(|_| format!("not an IP address or IP:port: {s:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            return Err("empty".into());
        }
        return Ok(Some(servers));
    }
    if etc_resolv_conf || !musl {
        return Ok(None);
    }
    let termux = std::fs::read_to_string(prefix(env).join("etc/resolv.conf")).unwrap_or_default();
    let mut ips = dns::nameservers_in(&termux);
    if ips.is_empty() {
        ips = dns::FALLBACK.to_vec();
    }
    Ok(Some(
        ips.into_iter().map(|ip| SocketAddr::new(ip, 53)).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(vars: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn a_static_binary_on_android_asks_termuxs_name_servers_or_public_ones() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().to_str().unwrap().to_string();
        let env = env_of(&[("PREFIX", prefix.clone())]);
        // no resolv.conf anywhere: the public fallback
        let want: Vec<SocketAddr> =
            vec!["1.1.1.1:53".parse().unwrap(), "8.8.8.8:53".parse().unwrap()];
        assert_eq!(name_servers(&env, false, true).unwrap(), Some(want));
        // Termux's
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/resolv.conf"), "nameserver 9.9.9.9\n").unwrap();
        assert_eq!(
            name_servers(&env, false, true).unwrap(),
            Some(vec!["9.9.9.9:53".parse().unwrap()])
        );
        // a system with /etc/resolv.conf, or Android's own C library: the C library resolves
        assert_eq!(name_servers(&env, true, true).unwrap(), None);
        assert_eq!(name_servers(&env, false, false).unwrap(), None);
    }

    #[test]
    fn phone_gateway_dns_overrides_and_is_checked() {
        let env = env_of(&[("PHONE_GATEWAY_DNS", "127.0.0.1:5353, 10.0.0.1".into())]);
        assert_eq!(
            name_servers(&env, true, false).unwrap(),
            Some(vec![
                "127.0.0.1:5353".parse().unwrap(),
                "10.0.0.1:53".parse().unwrap()
            ])
        );
        let bad = env_of(&[("PHONE_GATEWAY_DNS", "resolver.example".into())]);
        assert!(name_servers(&bad, true, false).is_err());
    }

    #[test]
    fn the_ca_bundle_is_ssl_cert_file_or_termuxs_if_present() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().to_str().unwrap().to_string();
        assert_eq!(ca_bundle(&env_of(&[("PREFIX", prefix.clone())])), None);
        std::fs::create_dir_all(dir.path().join("etc/tls")).unwrap();
        std::fs::write(dir.path().join("etc/tls/cert.pem"), "").unwrap();
        assert_eq!(
            ca_bundle(&env_of(&[("PREFIX", prefix.clone())])),
            Some(dir.path().join("etc/tls/cert.pem"))
        );
        assert_eq!(
            ca_bundle(&env_of(&[
                ("PREFIX", prefix),
                ("SSL_CERT_FILE", "/x.pem".into())
            ])),
            Some(PathBuf::from("/x.pem"))
        );
        // unreadable or not PEM: nothing added, no panic
        assert!(extra_roots(&dir.path().join("missing.pem")).is_empty());
    }
}
