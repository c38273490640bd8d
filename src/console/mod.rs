//! The web console at `/`: server-rendered pages over the store and the loaded definitions, on
//! the API's router and port. Pages read well without JavaScript; `console.js` only refreshes
//! the part of a page marked `data-live` every 2 s. Access: a signed stateless session cookie
//! from the API token (`auth`), a CSRF token on every state-changing form, security headers on
//! every answer (`headers`). Templates are minijinja, in their own [`Environment`] (not the
//! stories' one), wrapped in the layout in Rust (`view`); CSS and JS are embedded and served
//! under content-hashed URLs (`assets`).

mod assets;
mod auth;
mod graph;
mod headers;
mod pages;
pub mod session;
mod view;

use crate::api::AppState;
use crate::run::Millis;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use minijinja::Environment;
use session::{Brake, SessionKey};
use std::sync::{Arc, Mutex};

/// What the console's handlers share.
#[derive(Clone)]
pub struct Console(Arc<Inner>);

struct Inner {
    app: AppState,
    key: SessionKey,
    /// Cookies carry `Secure` when people reach Warden over https.
    secure: bool,
    brake: Mutex<Brake>,
    env: Environment<'static>,
    /// The last `(time, steps finished)` sample, for the health page's steps per second.
    rate: Mutex<Option<(Millis, u64)>>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").finish_non_exhaustive()
    }
}

impl Console {
    /// The console over the API's state.
    pub fn new(app: AppState) -> Console {
        let key = match &app.api_token {
            Some(token) => SessionKey::from_token(token.expose()),
            None => SessionKey::random().unwrap_or_else(|error| {
                // Only `--dev` runs without a token, and it opens the console anyway: a key from
                // a fresh UUID still keeps CSRF tokens unguessable across sites.
                tracing::warn!(%error, "No random bytes for the console's key; using a UUID.");
                SessionKey::from_token(&uuid::Uuid::now_v7().to_string())
            }),
        };
        let secure = app.engine.public_url.starts_with("https://");
        Console(Arc::new(Inner {
            app,
            key,
            secure,
            brake: Mutex::default(),
            env: view::environment(),
            rate: Mutex::default(),
        }))
    }

    fn app(&self) -> &AppState {
        &self.0.app
    }

    fn now(&self) -> Millis {
        self.0.app.engine.clock.now()
    }
}

/// The console's routes: pages behind a session, the sign-in page and the assets open.
pub fn router(app: AppState) -> Router {
    let console = Console::new(app);
    let pages = Router::new()
        .route("/", get(pages::runs::front))
        .route("/runs", get(pages::runs::list))
        .route("/runs/{id}", get(pages::run::show))
        .route("/stories", get(pages::stories::list))
        .route("/stories/{id}", get(pages::stories::show))
        .route("/alerts", get(pages::alerts::list))
        .route("/alerts/{id}", get(pages::alerts::show))
        .route("/prompts", get(pages::prompts::list))
        .route("/rules", get(pages::rules::list))
        .route("/rules/{id}/test", post(pages::rules::test))
        .route("/health", get(pages::health::show))
        .route("/signout", post(auth::sign_out))
        // The forms that act (`pages::act`) sit here, behind the session and the CSRF check;
        // `pages::run::run_actions` says which apply to a run.
        .route(
            "/console/runs/{id}/steps/{step}/retry",
            post(pages::act::retry_step),
        )
        .route("/console/runs/{id}/cancel", post(pages::act::cancel_run))
        .route("/console/runs/{id}/rerun", post(pages::act::rerun))
        .route(
            "/console/prompts/{id}/answer",
            post(pages::act::answer_prompt),
        )
        .route_layer(middleware::from_fn_with_state(
            console.clone(),
            auth::require_session,
        ));
    let open = Router::new()
        .route("/signin", get(auth::sign_in_page).post(auth::sign_in))
        .route("/static/{name}", get(assets::serve));
    pages
        .merge(open)
        .layer(middleware::from_fn_with_state(
            console.clone(),
            auth::check_csrf,
        ))
        .layer(middleware::from_fn(headers::secure))
        .with_state(console)
}
