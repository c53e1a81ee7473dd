//! The delivery client: one HTTP/1.1 `POST` over a connection this module
//! dials itself, so the address checked is the address dialed.
//!
//! Order of checks for every attempt: the URL (absolute, `https` unless
//! the loopback switch is on, no credentials) → the host resolved once
//! (a literal IP as it is; no proxy is ever used) → every resolved
//! address judged by [`refusal`], the whole attempt refused if any is
//! refused → those exact addresses dialed, nothing resolved again (so a
//! DNS answer that changes between a check and the connect cannot slip
//! through) → TLS (webpki roots) → the request → the response's status:
//! `2xx` delivered, `3xx` a failure that is never followed, anything else
//! a failure. The body is read up to [`READ_LIMIT`] while time remains;
//! its first [`SNIPPET`] bytes are kept.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

use super::address::refusal;
use super::outcome::{DeliveryError, DeliveryOutcome, READ_LIMIT, SNIPPET, snippet};
use crate::config::WebhookConfig;

/// Sent as `User-Agent`.
const USER_AGENT: &str = concat!("Rookery-Webhooks/", env!("CARGO_PKG_VERSION"));

/// An endpoint URL that passed the syntactic checks.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) https: bool,
    pub(super) host: Host,
    pub(super) port: u16,
    /// `Host` header: the host as written, with a non-default port.
    pub(super) authority: String,
    /// Path and query.
    pub(super) path: String,
}

#[derive(Debug, Clone)]
pub(super) enum Host {
    Ip(IpAddr),
    Name(String),
}

impl Host {
    fn text(&self) -> String {
        match self {
            Self::Ip(ip) => ip.to_string(),
            Self::Name(name) => name.clone(),
        }
    }
}

/// Reads `text` as an endpoint URL. A literal IP is judged here already.
pub(super) fn target(text: &str, allow_loopback: bool) -> Result<Target, DeliveryError> {
    let invalid = |reason| DeliveryError::InvalidUrl { reason };
    let url = url::Url::parse(text).map_err(|_| invalid("not an absolute URL"))?;
    let https = match url.scheme() {
        "https" => true,
        "http" if allow_loopback => false,
        "http" => return Err(DeliveryError::InsecureScheme),
        _ => return Err(invalid("the scheme is neither https nor http")),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials in the URL are not sent; remove them"));
    }
    // WHATWG parsing: `https://2130706433/` and `https://0x7f.1/` are IPv4
    // literals here, judged as such.
    let host = match url.host().ok_or_else(|| invalid("no host"))? {
        url::Host::Ipv4(ip) => Host::Ip(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Host::Ip(IpAddr::V6(ip)),
        url::Host::Domain(name) => Host::Name(name.trim_end_matches('.').to_owned()),
    };
    if let Host::Ip(ip) = host
        && let Some(class) = refusal(ip, allow_loopback)
    {
        return Err(DeliveryError::RefusedAddress {
            host: ip.to_string(),
            address: ip,
            class,
        });
    }
    let port = url.port_or_known_default().ok_or_else(|| invalid("no port"))?;
    let host_text = url.host_str().ok_or_else(|| invalid("no host"))?;
    let authority = match url.port() {
        Some(port) => format!("{host_text}:{port}"),
        None => host_text.to_owned(),
    };
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    Ok(Target {
        https,
        host,
        port,
        authority,
        path,
    })
}

/// The addresses `target` may be dialed at: resolved once, each judged.
pub(super) async fn addresses(target: &Target, allow_loopback: bool) -> Result<Vec<SocketAddr>, DeliveryError> {
    let found: Vec<SocketAddr> = match &target.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, target.port)],
        Host::Name(name) => tokio::net::lookup_host((name.as_str(), target.port))
            .await
            .map_err(|e| DeliveryError::Dns {
                host: name.clone(),
                reason: e.to_string(),
            })?
            .collect(),
    };
    if found.is_empty() {
        return Err(DeliveryError::Dns {
            host: target.host.text(),
            reason: "no addresses".into(),
        });
    }
    // One refused address refuses the host: a name that answers with an
    // internal address beside a public one is not trusted with either.
    for addr in &found {
        if let Some(class) = refusal(addr.ip(), allow_loopback) {
            return Err(DeliveryError::RefusedAddress {
                host: target.host.text(),
                address: addr.ip(),
                class,
            });
        }
    }
    Ok(found)
}

/// The delivery client: the TLS configuration and the limits. Cheap to
/// clone; build one per process.
#[derive(Clone)]
pub struct WebhookClient {
    config: WebhookConfig,
    tls: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for WebhookClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Aborts the connection's task when the attempt ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl WebhookClient {
    /// A client with `config`'s limits and the webpki roots.
    pub fn new(config: &WebhookConfig) -> Self {
        let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self {
            config: *config,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
        }
    }

    /// The limits it delivers with.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// Whether `url` may be registered as an endpoint now: its syntax, and
    /// the addresses its host resolves to (nothing is sent). Deliveries
    /// check again, every time.
    pub async fn vet(&self, url: &str) -> Result<(), DeliveryError> {
        let target = target(url, self.config.allow_loopback)?;
        let lookup = addresses(&target, self.config.allow_loopback);
        match timeout(self.config.connect_timeout, lookup).await {
            Ok(found) => found.map(drop),
            Err(_) => Err(DeliveryError::ConnectTimeout {
                after: self.config.connect_timeout,
            }),
        }
    }

    /// POSTs `body` with `headers` to `url` once, within the configured
    /// timeouts, and says how it went.
    pub(super) async fn post(&self, url: &str, headers: &[(&str, String)], body: Vec<u8>) -> DeliveryOutcome {
        let started = Instant::now();
        let deadline = started + self.config.timeout;
        let head = timeout_at(deadline, self.exchange(url, headers, body)).await;
        let latency = started.elapsed();
        let (response, _connection) = match head {
            Ok(Ok(head)) => head,
            Ok(Err(error)) => return DeliveryOutcome::failed(error, latency),
            Err(_) => {
                let after = self.config.timeout;
                return DeliveryOutcome::failed(DeliveryError::Timeout { after }, latency);
            }
        };
        let status = response.status();
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok());
        let retry_after = header(hyper::header::RETRY_AFTER)
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs);
        let error = if status.is_success() {
            None
        } else if status.is_redirection() {
            Some(DeliveryError::Redirect {
                status: status.as_u16(),
                location: header(hyper::header::LOCATION).map(str::to_owned),
            })
        } else {
            Some(DeliveryError::Status {
                status: status.as_u16(),
            })
        };
        let body = read_capped(response.into_body(), deadline).await;
        DeliveryOutcome {
            status: Some(status.as_u16()),
            latency,
            error,
            response: snippet(&body),
            retry_after,
        }
    }

    /// Everything up to the response's head.
    async fn exchange(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<(hyper::Response<hyper::body::Incoming>, AbortOnDrop), DeliveryError> {
        let allow_loopback = self.config.allow_loopback;
        let target = target(url, allow_loopback)?;
        let tcp = match timeout(self.config.connect_timeout, connect(&target, allow_loopback)).await {
            Ok(tcp) => tcp?,
            Err(_) => {
                let after = self.config.connect_timeout;
                return Err(DeliveryError::ConnectTimeout { after });
            }
        };
        let mut request = hyper::Request::post(target.path.as_str())
            .header(hyper::header::HOST, target.authority.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, USER_AGENT);
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| DeliveryError::Protocol { reason: e.to_string() })?;
        if !target.https {
            return send(tcp, request).await;
        }
        let name =
            rustls::pki_types::ServerName::try_from(target.host.text()).map_err(|_| DeliveryError::InvalidUrl {
                reason: "not a TLS server name",
            })?;
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| DeliveryError::Tls { reason: e.to_string() })?;
        send(tls, request).await
    }
}

/// Resolves and judges, then dials the judged addresses in order.
async fn connect(target: &Target, allow_loopback: bool) -> Result<TcpStream, DeliveryError> {
    let mut last = None;
    for addr in addresses(target, allow_loopback).await? {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    let (address, e) = last.expect("addresses are never empty");
    Err(DeliveryError::Connect {
        address,
        reason: e.to_string(),
    })
}

/// One request on a fresh HTTP/1.1 connection; the connection is driven
/// by a task that ends when the returned guard is dropped.
async fn send<S>(
    stream: S,
    request: hyper::Request<Full<Bytes>>,
) -> Result<(hyper::Response<hyper::body::Incoming>, AbortOnDrop), DeliveryError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let protocol = |e: hyper::Error| DeliveryError::Protocol { reason: e.to_string() };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(protocol)?;
    let guard = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender.send_request(request).await.map_err(protocol)?;
    Ok((response, guard))
}

/// Up to [`READ_LIMIT`] bytes of `body`, stopping at the deadline or at
/// the first error with what has arrived; only the first [`SNIPPET`] are
/// kept.
async fn read_capped(mut body: hyper::body::Incoming, deadline: Instant) -> Vec<u8> {
    let (mut kept, mut read) = (Vec::new(), 0usize);
    while read < READ_LIMIT {
        let Ok(Some(Ok(frame))) = timeout_at(deadline, body.frame()).await else {
            break;
        };
        if let Ok(data) = frame.into_data() {
            read += data.len();
            let room = SNIPPET.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::{Host, target};
    use crate::webhooks::DeliveryError;

    #[test]
    fn urls_are_checked_before_anything_is_resolved() {
        let t = target("https://hooks.example.com/in?x=1#frag", false).unwrap();
        assert!(t.https);
        assert!(matches!(&t.host, Host::Name(n) if n == "hooks.example.com"));
        assert_eq!(
            (t.port, t.authority.as_str(), t.path.as_str()),
            (443, "hooks.example.com", "/in?x=1")
        );
        let t = target("http://[::1]:8080", true).unwrap();
        assert_eq!(
            (t.port, t.authority.as_str(), t.path.as_str()),
            (8080, "[::1]:8080", "/")
        );
        let refused = |url: &str| target(url, false).unwrap_err();
        assert_eq!(refused("http://hooks.example.com/"), DeliveryError::InsecureScheme);
        for url in [
            "hooks.example.com/in",
            "ftp://hooks.example.com/",
            "https://u:p@hooks.example.com/",
        ] {
            assert!(matches!(refused(url), DeliveryError::InvalidUrl { .. }), "{url}");
        }
        for url in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f.1/",
            "https://[::ffff:7f00:1]/",
            "https://169.254.169.254/latest/meta-data/",
            "https://0.0.0.0/",
        ] {
            assert!(matches!(refused(url), DeliveryError::RefusedAddress { .. }), "{url}");
        }
        assert!(
            target("http://10.0.0.1/", true).is_err(),
            "the switch allows loopback only"
        );
    }
}
