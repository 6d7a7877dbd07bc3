//! Which receivers a webhook may reach. Unless `webhooks.allow_private_targets` is set (the dev
//! stack), no delivery goes to a loopback, private, link-local, unique-local, multicast,
//! unspecified or otherwise non-public address: a subscriber must not be able to make the
//! notifier probe the machines beside it (SSRF).
//!
//! The rule is checked when a subscription is made (the URL's host and every address it resolves
//! to) and again on every connection: the worker's HTTP client resolves names through
//! [`GuardedResolver`], which refuses a name that resolves to a forbidden address, and connects
//! only to the addresses it checked, so a name that resolves differently later (DNS rebinding)
//! is caught where it matters. Literal addresses are checked before each attempt
//! ([`check_literal`]), since the client does not resolve them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use super::{MAX_URL_LEN, SubscriptionError};
use crate::settings::WebhookSettings;

/// How long a name may take to resolve when a subscription is made.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why `ip` may not be reached, or `None` for a public address.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let why = if ip.is_unspecified() || a == 0 {
        "an unspecified (0.0.0.0/8) address"
    } else if ip.is_loopback() {
        "a loopback address"
    } else if ip.is_private() {
        "a private address"
    } else if ip.is_link_local() {
        "a link-local address"
    } else if ip.is_multicast() {
        "a multicast address"
    } else if ip.is_broadcast() || a >= 240 {
        "a reserved address"
    } else if a == 100 && (64..128).contains(&b) {
        "a shared (carrier-grade NAT) address"
    } else if a == 192 && b == 0 && c == 0 {
        "an IETF protocol address"
    } else if a == 198 && (18..20).contains(&b) {
        "a benchmarking address"
    } else if ip.is_documentation() {
        "a documentation address"
    } else {
        return None;
    };
    Some(why)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    // IPv4 carried in IPv6 (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d): the IPv4 rule.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let [.., a, b, c, d] = ip.octets();
        return forbidden_v4(Ipv4Addr::new(a, b, c, d));
    }
    let why = if ip.is_unspecified() {
        "an unspecified address"
    } else if ip.is_loopback() {
        "a loopback address"
    } else if ip.is_multicast() {
        "a multicast address"
    } else if (s[0] & 0xfe00) == 0xfc00 {
        "a unique-local address"
    } else if (s[0] & 0xffc0) == 0xfe80 {
        "a link-local address"
    } else if (s[0] & 0xffc0) == 0xfec0 {
        "a site-local address"
    } else if s[0..6] == [0, 0, 0, 0, 0, 0] {
        // The deprecated IPv4-compatible ::a.b.c.d and the rest of ::/96.
        "an IPv4-compatible address"
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        "a documentation address"
    } else {
        return None;
    };
    Some(why)
}

/// Checks the form of a receiver URL: `http` or `https`, a host, no credentials, not too long.
pub fn parse_url(text: &str) -> Result<Url, SubscriptionError> {
    let bad = |message: String| SubscriptionError::Invalid { field: "url", message };
    if text.len() > MAX_URL_LEN {
        return Err(bad(format!("at most {MAX_URL_LEN} characters")));
    }
    let url = Url::parse(text).map_err(|e| bad(format!("{text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!("{}:// is not http:// or https://", url.scheme())));
    }
    if url.host().is_none() {
        return Err(bad("no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("no user:password@ in the URL (it would be shown in the subscription and logs)".into()));
    }
    if url.fragment().is_some() {
        return Err(bad("no #fragment".into()));
    }
    Ok(url)
}

/// Refuses a URL whose host is a literal forbidden address (names are the resolver's).
pub fn check_literal(url: &Url) -> Result<(), String> {
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(Host::Domain(_)) | None => return Ok(()),
    };
    match forbidden(ip) {
        Some(why) => Err(format!("{ip} is {why}; the deployment does not deliver there")),
        None => Ok(()),
    }
}

/// Refuses `addrs` (of `host`) when any of them is forbidden.
fn check_resolved(host: &str, addrs: &[SocketAddr]) -> Result<(), String> {
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    for a in addrs {
        if let Some(why) = forbidden(a.ip()) {
            return Err(format!("{host} resolves to {}, {why}; the deployment does not deliver there", a.ip()));
        }
    }
    Ok(())
}

/// The subscription-time check: the host, and (for a name) every address it resolves to now.
pub async fn check_target(url: &Url, allow_private: bool) -> Result<(), SubscriptionError> {
    if allow_private {
        return Ok(());
    }
    check_literal(url).map_err(SubscriptionError::NotAllowed)?;
    let Some(Host::Domain(host)) = url.host() else { return Ok(()) };
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> = match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
    {
        Ok(Ok(addrs)) => addrs.collect(),
        Ok(Err(e)) => {
            return Err(SubscriptionError::Invalid { field: "url", message: format!("{host} does not resolve: {e}") });
        }
        Err(_) => {
            return Err(SubscriptionError::Invalid {
                field: "url",
                message: format!("{host} did not resolve in time"),
            });
        }
    };
    check_resolved(host, &addrs).map_err(SubscriptionError::NotAllowed)
}

/// A name resolver that refuses names resolving to a forbidden address, for the worker's client.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardedResolver;

/// The error the resolver refuses with.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            check_resolved(&host, &addrs)
                .map_err(|m| Box::new(Refused(m)) as Box<dyn std::error::Error + Send + Sync>)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The worker's HTTP client: the per-attempt timeout, no redirects (a redirect could lead
/// anywhere), no proxy from the environment (the check must see the receiver's addresses), and
/// the guarded resolver unless private targets are allowed.
pub fn client(settings: &WebhookSettings) -> anyhow::Result<reqwest::Client> {
    let timeout = Duration::from_secs(settings.timeout_seconds);
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("whistle-notify/", env!("CARGO_PKG_VERSION")));
    if !settings.allow_private_targets {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_forbidden_and_public_ones_pass() {
        for ip in [
            "127.0.0.1",
            "127.5.5.5",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
            "100.64.0.1",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::7f00:1",
        ] {
            assert!(forbidden(ip.parse().unwrap()).is_some(), "{ip} must be forbidden");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2400:3200::1", "::ffff:8.8.8.8"] {
            assert_eq!(forbidden(ip.parse().unwrap()), None, "{ip} is public");
        }
    }

    #[test]
    fn receiver_urls_are_http_with_a_host_and_no_credentials() {
        assert!(parse_url("http://example.cn/hooks?x=1").is_ok());
        assert!(parse_url("https://[2400:3200::1]:8443/").is_ok());
        for bad in ["ftp://example.cn/", "http://user:pw@example.cn/", "not a url", "http://example.cn/#x"] {
            assert!(matches!(parse_url(bad), Err(SubscriptionError::Invalid { field: "url", .. })), "{bad}");
        }
        assert!(parse_url(&format!("http://example.cn/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }

    #[tokio::test]
    async fn loopback_receivers_are_refused_unless_allowed_by_literal_or_by_name() {
        for url in ["http://127.0.0.1:9/", "http://[::1]:9/", "http://localhost:9/", "http://0.0.0.0/"] {
            let url = Url::parse(url).unwrap();
            let err = check_target(&url, false).await.unwrap_err();
            assert!(matches!(err, SubscriptionError::NotAllowed(_)), "{url}: {err}");
            check_target(&url, true).await.expect("allowed in the dev stack");
        }
    }

    #[tokio::test]
    async fn the_guarded_client_refuses_a_name_that_resolves_to_loopback_at_connection_time() {
        // A receiver really listens on loopback: only the check can stop the request.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new().route("/", axum::routing::post(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let guarded = client(&WebhookSettings::default()).unwrap();
        let err = guarded.post(format!("http://localhost:{port}/")).send().await.unwrap_err();
        let chain = crate::webhooks::worker::error_chain(&err);
        assert!(chain.contains("resolves to") && chain.contains("loopback"), "{chain}");
        let open = client(&WebhookSettings { allow_private_targets: true, ..Default::default() }).unwrap();
        let answer = open.post(format!("http://localhost:{port}/")).send().await.expect("the dev stack reaches it");
        assert_eq!(answer.status(), 200);
    }
}
