//! Canned answers instead of the network, for `warden test`: a [`Canned`] responder set on
//! [`super::HttpClients`] answers every request [`super::HttpClients::send`] is given, and no
//! connection is made. Only [`crate::storytest`] builds one; `serve`, `worker` and the rest
//! always reach the network (their [`crate::app::Settings`] leave `canned` at `None`).
//!
//! To answer "per action", a responder is told where the request comes from: the [`Origin`],
//! set around a step's execution by `engine::execute` ([`within_action`]) and narrowed to a
//! template step or a Slack method by the code that sends it ([`within_step`]). Outside a
//! scope (alert delivery, the Okta poller) there is no origin.

use std::future::Future;

tokio::task_local! {
    static ORIGIN: Origin;
}

/// Which action (and which of its requests) an outbound request belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    /// The story action's id.
    pub action: String,
    /// The integration template's step name (`suspend` in `okta/lock_user`), or the Slack Web
    /// API method a prompt calls (`chat.postMessage`); none for an action's only request.
    pub step: Option<String>,
}

impl Origin {
    /// `action` or `action.step`: how `warden test` files name a request.
    pub fn key(&self) -> String {
        match &self.step {
            Some(step) => format!("{}.{step}", self.action),
            None => self.action.clone(),
        }
    }
}

/// Runs `future` with requests attributed to `action`.
pub async fn within_action<F: Future>(action: &str, future: F) -> F::Output {
    let origin = Origin {
        action: action.to_owned(),
        step: None,
    };
    ORIGIN.scope(origin, future).await
}

/// Runs `future` with requests attributed to `step` of the current action.
pub async fn within_step<F: Future>(step: &str, future: F) -> F::Output {
    let action = ORIGIN.try_with(|o| o.action.clone()).unwrap_or_default();
    let origin = Origin {
        action,
        step: Some(step.to_owned()),
    };
    ORIGIN.scope(origin, future).await
}

/// The origin of requests sent from here, if any.
pub fn current() -> Option<Origin> {
    ORIGIN.try_with(Origin::clone).ok()
}

/// Answers outbound requests in place of the network.
pub trait Canned: Send + Sync + std::fmt::Debug {
    /// The answer to `request`, sent from `origin`. A responder with no answer for it still
    /// returns a response (and remembers the miss): nothing goes to the network.
    fn answer(&self, origin: Option<Origin>, request: &reqwest::Request)
        -> http::Response<Vec<u8>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_step_scope_keeps_its_action() {
        assert_eq!(current(), None);
        let inner = within_action("lock_user", async {
            within_step("suspend", async { current() }).await
        })
        .await
        .unwrap();
        assert_eq!(inner.key(), "lock_user.suspend");
        let outer = within_action("vt_lookup", async { current() }).await;
        assert_eq!(outer.unwrap().key(), "vt_lookup");
    }
}
