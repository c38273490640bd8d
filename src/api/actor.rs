//! [`Actor`]: who is calling `/api`, as the runs' history names them. For now the one API token
//! is one user, `api`, and a `--dev` server's caller is `dev`; a users file mapping tokens to
//! names would be read here, and every handler that records history already asks for an `Actor`.

use super::{ApiError, AppState};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The caller of an `/api` route (authenticated by `require_token` before any handler runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    /// The user behind the API token.
    pub const API: &'static str = "api";
    /// The caller of a `--dev` server, which needs no token.
    pub const DEV: &'static str = "dev";

    /// The caller of a server in `dev` mode or not.
    pub fn for_server(dev: bool) -> Actor {
        Actor(if dev { Actor::DEV } else { Actor::API }.to_owned())
    }

    /// The name the history records.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Actor, ApiError> {
        Ok(Actor::for_server(state.dev))
    }
}

#[cfg(test)]
mod tests {
    use super::Actor;

    #[test]
    fn a_dev_server_names_its_caller_dev_and_a_token_holder_api() {
        assert_eq!(Actor::for_server(true).name(), "dev");
        assert_eq!(Actor::for_server(false).name(), "api");
    }
}
