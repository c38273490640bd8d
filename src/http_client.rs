//! The only place a `reqwest::Client` is built: one connection pool for every outbound call.

use std::time::Duration;

/// Outbound HTTP clients: one that follows redirects, one that does not (per-action choice).
#[derive(Debug, Clone)]
pub struct HttpClients {
    /// Follows up to 10 same-origin redirects.
    pub following: reqwest::Client,
    /// Returns 3xx responses as they are.
    pub direct: reqwest::Client,
}

impl HttpClients {
    /// Builds both clients (rustls, connection pooling, no proxy from the environment: a
    /// security tool's traffic should not silently change route).
    pub fn new() -> HttpClients {
        HttpClients {
            following: build(same_origin_redirects()),
            direct: build(reqwest::redirect::Policy::none()),
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
}

impl Default for HttpClients {
    fn default() -> Self {
        HttpClients::new()
    }
}

/// Follows up to 10 redirects that stay on the same scheme, host and port. A redirect elsewhere
/// is returned as it is: following it would carry the request's credential headers and body
/// (reqwest strips only `Authorization` and cookies) to another server, or down to plain HTTP.
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
fn build(redirects: reqwest::redirect::Policy) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
        .redirect(redirects)
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        // Building fails only without a TLS backend, which is compiled in.
        .expect("the HTTP client builds")
}
