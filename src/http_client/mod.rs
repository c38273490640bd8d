//! The only place a `reqwest::Client` is built: one connection pool for every outbound call, and
//! [`HttpClients::send`], the one way a request leaves, where the opt-in outbound guard
//! ([`Outbound::PublicOnly`], see [`guard`]) refuses non-public destinations, and where
//! `warden test` answers instead of the network ([`canned`]).

pub mod canned;
pub mod guard;

use std::sync::Arc;
use std::time::Duration;

pub use guard::{Class, Refused};

/// Which destinations outbound requests may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outbound {
    /// Any address (the default: stories often call services on the local network).
    #[default]
    Any,
    /// Public addresses only: loopback, link-local (cloud metadata), private, shared,
    /// unspecified, multicast, broadcast and reserved addresses, and their IPv6 forms, are
    /// refused, both IP-literal hosts and names after DNS resolution (redirects included).
    PublicOnly,
}

/// Why a request was not answered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The outbound guard refused the destination; sending again changes nothing.
    #[error(transparent)]
    Refused(Refused),
    /// The request failed (build, connect, timeout, …).
    #[error(transparent)]
    Request(reqwest::Error),
}

/// Outbound HTTP clients: one that follows redirects, one that does not (per-action choice).
#[derive(Debug, Clone)]
pub struct HttpClients {
    /// Follows up to 10 same-origin redirects.
    pub following: reqwest::Client,
    /// Returns 3xx responses as they are.
    pub direct: reqwest::Client,
    outbound: Outbound,
    /// `warden test`'s vendors: when set, they answer every request and nothing is sent.
    canned: Option<Arc<dyn canned::Canned>>,
}

impl HttpClients {
    /// Builds both clients (rustls, connection pooling, no proxy from the environment: a
    /// security tool's traffic should not silently change route), reaching any address.
    pub fn new() -> HttpClients {
        HttpClients::with_outbound(Outbound::Any)
    }

    /// Builds both clients with the given outbound guard.
    pub fn with_outbound(outbound: Outbound) -> HttpClients {
        HttpClients {
            following: build(same_origin_redirects(), outbound),
            direct: build(reqwest::redirect::Policy::none(), outbound),
            outbound,
            canned: None,
        }
    }

    /// Clients whose requests `responder` answers: none reaches the network (`warden test`).
    pub fn canned(responder: Arc<dyn canned::Canned>) -> HttpClients {
        HttpClients {
            canned: Some(responder),
            ..HttpClients::new()
        }
    }

    /// The client for a request.
    pub fn for_redirects(&self, follow: bool) -> &reqwest::Client {
        if follow {
            &self.following
        } else {
            &self.direct
        }
    }

    /// Which destinations these clients may reach.
    pub fn outbound(&self) -> Outbound {
        self.outbound
    }

    /// Sends a request built from one of these clients: every outbound request goes through
    /// here, so the guard sees each one. An IP-literal host is checked before anything is sent;
    /// a name is checked by the clients' resolver when it connects, and its refusal is returned
    /// as [`Error::Refused`] too. With a [`canned::Canned`] responder, it answers instead.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, Error> {
        let (client, request) = request.build_split();
        let request = request.map_err(Error::Request)?;
        if let Some(canned) = &self.canned {
            let answer = canned.answer(canned::current(), &request);
            return Ok(reqwest::Response::from(answer));
        }
        if self.outbound == Outbound::PublicOnly {
            guard::check_url(request.url()).map_err(Error::Refused)?;
        }
        client
            .execute(request)
            .await
            .map_err(|error| match guard::refusal(&error) {
                Some(refused) => Error::Refused(refused),
                None => Error::Request(error),
            })
    }
}

impl Default for HttpClients {
    fn default() -> Self {
        HttpClients::new()
    }
}

/// Follows up to 10 redirects that stay on the same scheme, host and port. A redirect elsewhere
/// is returned as it is: following it would carry the request's credential headers and body
/// (reqwest strips only `Authorization` and cookies) to another server, or down to plain HTTP.
/// Same origin means the host [`HttpClients::send`] already checked, so the outbound guard
/// needs no second look here.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .last()
            .is_some_and(|previous| previous.origin() == attempt.url().origin());
        if attempt.previous().len() > 10 {
            attempt.error("more than 10 redirects")
        } else if same_origin {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

// The one place a client is built (house rule, `clippy.toml`).
#[allow(clippy::disallowed_methods)]
fn build(redirects: reqwest::redirect::Policy, outbound: Outbound) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
        .redirect(redirects)
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60));
    if outbound == Outbound::PublicOnly {
        builder = builder.dns_resolver(Arc::new(guard::Resolver));
    }
    builder
        .build()
        // Building fails only without a TLS backend, which is compiled in.
        .expect("the HTTP client builds")
}

/// A client of Warden's own API, as a user's would be (the demo's stack, the benches' load
/// generators, the tests): not an outbound vendor call, so none of the guarded clients above.
#[allow(clippy::disallowed_methods)]
pub fn api_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
}

/// [`api_client_builder`] with its defaults.
pub fn api_client() -> reqwest::Client {
    api_client_builder()
        .build()
        // Building fails only without a TLS backend, which is compiled in.
        .expect("the HTTP client builds")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn send_to(clients: &HttpClients, url: &str) -> Result<reqwest::Response, Error> {
        let request = clients.direct.get(url).timeout(Duration::from_secs(5));
        clients.send(request).await
    }

    #[tokio::test]
    async fn a_guarded_send_refuses_loopback_literals_and_names() {
        let guarded = HttpClients::with_outbound(Outbound::PublicOnly);
        for url in [
            "http://127.0.0.1:9/",
            "http://0x7f000001:9/",
            "http://[::ffff:127.0.0.1]:9/",
            "http://localhost:9/",
        ] {
            match send_to(&guarded, url).await {
                Err(Error::Refused(refused)) => assert_eq!(refused.class, Class::Loopback, "{url}"),
                other => panic!("{url}: not refused: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn an_open_send_tries_to_connect_to_loopback() {
        // The control: the same destination without the guard fails to connect, not refused.
        match send_to(&HttpClients::new(), "http://127.0.0.1:9/").await {
            Err(Error::Request(_)) | Ok(_) => {}
            Err(Error::Refused(refused)) => panic!("refused without the guard: {refused}"),
        }
    }
}
