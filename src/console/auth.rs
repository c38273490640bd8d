//! Signing in and out, the session check in front of every page, and the CSRF check in front of
//! every state-changing request.

use super::session::{Brake, SessionClaims, COOKIE, SESSION_MILLIS};
use super::view::{PageError, Session};
use super::Console;
use crate::escape::Escaped;
use crate::store::Sessions as _;
use axum::body::Bytes;
use axum::body::{to_bytes, Body};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// The largest form body the CSRF check reads (forms here are a few fields).
const MAX_FORM: usize = 64 * 1024;

/// The CSRF identity of the sign-in form, which comes before any session.
const SIGN_IN: &str = "signin";

/// The CSRF identity in `--dev` without a session cookie.
const DEV: &str = "dev";

/// The request's live session: its cookie's value (the session's CSRF identity) and what the
/// cookie says, when it carries a cookie this console issued that has neither expired nor been
/// signed out.
async fn live_session(
    console: &Console,
    headers: &HeaderMap,
) -> Result<Option<(String, SessionClaims)>, PageError> {
    let now = console.now();
    let values = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned());
    for value in values {
        let Some(claims) = console.0.key.verify(&value, now) else {
            continue;
        };
        let store = &console.app().engine.store;
        if !store
            .session_signed_out(&claims.id)
            .await
            .map_err(PageError::store)?
        {
            return Ok(Some((value, claims)));
        }
    }
    Ok(None)
}

/// Whose CSRF token a request must carry: its session's, or `--dev`'s when open without one.
async fn identity(console: &Console, headers: &HeaderMap) -> Result<Option<String>, PageError> {
    let session = live_session(console, headers)
        .await?
        .map(|(value, _)| value);
    Ok(session.or_else(|| console.app().dev.then(|| DEV.to_owned())))
}

/// The identity [`check_csrf`] found for a request, kept in its extensions so [`require_session`]
/// does not ask the store a second time.
#[derive(Debug, Clone)]
struct Resolved(Option<String>);

/// In front of the pages: a live session (or `--dev`) puts a [`Session`] in the request;
/// otherwise a page request is sent to the sign-in page and anything else is refused.
pub(super) async fn require_session(
    State(console): State<Console>,
    mut request: Request,
    next: Next,
) -> Response {
    let resolved = match request.extensions().get::<Resolved>() {
        Some(Resolved(id)) => Ok(id.clone()),
        None => identity(&console, request.headers()).await,
    };
    let id = match resolved {
        Ok(id) => id,
        Err(error) => return error.into_response(),
    };
    let Some(id) = id else {
        if request.method() == Method::GET {
            let target = request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &target)
                .finish();
            return Redirect::to(&format!("/signin?{query}")).into_response();
        }
        return PageError::new(StatusCode::FORBIDDEN, "Sign in first.").into_response();
    };
    request.extensions_mut().insert(Session {
        csrf: console.0.key.csrf(&id),
        signed_in: id != DEV,
    });
    next.run(request).await
}

/// In front of every route: a request that may change state (any method but GET and HEAD) must
/// carry the CSRF token of its session, as the form field `csrf` or the `X-CSRF-Token` header;
/// without it the answer is 403 and the handler never runs.
pub(super) async fn check_csrf(
    State(console): State<Console>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let refused = || {
        PageError::new(
            StatusCode::FORBIDDEN,
            "This form is missing its CSRF token or the token is wrong: reload the page and try again.",
        )
        .into_response()
    };
    let signing_in = request.uri().path() == "/signin";
    let id = if signing_in {
        Some(SIGN_IN.to_owned())
    } else {
        match identity(&console, request.headers()).await {
            Ok(id) => id,
            Err(error) => return error.into_response(),
        }
    };
    let Some(id) = id else {
        return refused();
    };
    let (mut parts, body) = request.into_parts();
    if !signing_in {
        parts.extensions.insert(Resolved(Some(id.clone())));
    }
    let header_token = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
        return PageError::new(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.")
            .into_response();
    };
    let form_token = form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.into_owned());
    let matches = header_token
        .into_iter()
        .chain(form_token)
        .any(|given| console.0.key.csrf_matches(&id, &given));
    if !matches {
        tracing::warn!(path = %Escaped(parts.uri.path()), "Console request refused: no valid CSRF token.");
        return refused();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[derive(Debug, Deserialize)]
pub(super) struct SignInQuery {
    next: Option<String>,
}

/// `GET /signin`.
pub(super) async fn sign_in_page(
    State(console): State<Console>,
    Query(query): Query<SignInQuery>,
) -> Result<Response, PageError> {
    render_sign_in(&console, query.next.as_deref(), None, StatusCode::OK)
}

fn render_sign_in(
    console: &Console,
    next: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let session = Session {
        csrf: console.0.key.csrf(SIGN_IN),
        signed_in: false,
    };
    let closed = console.app().api_token.is_none() && !console.app().dev;
    let mut page = console.render(
        "signin.html",
        "Sign in",
        "",
        &session,
        minijinja::context! {
            next => safe_next(next),
            error => error,
            closed => closed,
            dev => console.app().dev,
        },
    )?;
    *page.status_mut() = status;
    Ok(page)
}

/// Where to go after signing in: a path on this site only (never `//host` or a URL). Only
/// visible ASCII passes: browsers drop tabs and newlines from a `Location` (`/\t/host` would
/// become `//host`), and a control character is not a valid header value at all.
fn safe_next(next: Option<&str>) -> &str {
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n.contains('\\')
            && n.bytes().all(|b| b.is_ascii_graphic())
    })
    .unwrap_or("/")
}

/// The sign-in form's fields.
#[derive(Default)]
struct SignInForm {
    token: String,
    next: Option<String>,
}

impl SignInForm {
    fn read(body: &[u8]) -> SignInForm {
        let mut form = SignInForm::default();
        for (name, value) in form_urlencoded::parse(body) {
            match &*name {
                "token" => form.token = value.into_owned(),
                "next" => form.next = Some(value.into_owned()),
                _ => {}
            }
        }
        form
    }
}

/// `POST /signin`: the API token sets a session cookie; a wrong one counts toward the brake.
pub(super) async fn sign_in(
    State(console): State<Console>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = SignInForm::read(&body);
    let now = console.now();
    let engaged = console
        .0
        .brake
        .lock()
        .map_or(None, |mut b| b.engaged_until(now));
    if let Some(until) = engaged {
        let seconds = ((until - now) / 1000).max(1);
        let mut page = render_sign_in(
            &console,
            form.next.as_deref(),
            Some(&format!(
                "Too many failed sign-ins: try again in {seconds} s."
            )),
            StatusCode::TOO_MANY_REQUESTS,
        )?;
        page.headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
        return Ok(page);
    }
    let right = console
        .app()
        .api_token
        .as_ref()
        .is_some_and(|t| t.matches(form.token.trim().as_bytes()));
    if !right {
        if let Ok(mut brake) = console.0.brake.lock() {
            brake.failed(now);
        }
        tracing::warn!(limit = Brake::LIMIT, "Console sign-in with a wrong token.");
        return render_sign_in(
            &console,
            form.next.as_deref(),
            Some("That is not the API token."),
            StatusCode::UNAUTHORIZED,
        );
    }
    let session = console.0.key.issue(now).map_err(|error| {
        tracing::error!(%error, "No random bytes for a console session id.");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Warden could not start a session; the error is in its log.",
        )
    })?;
    let cookie = set_cookie(&session, SESSION_MILLIS / 1000, console.0.secure);
    Ok((
        [(header::SET_COOKIE, cookie)],
        Redirect::to(safe_next(form.next.as_deref())),
    )
        .into_response())
}

/// The session cookie's `Set-Cookie` value: never readable by scripts, never sent cross-site,
/// only over https when Warden is reached over https.
fn set_cookie(value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" },
    )
}

/// `POST /signout`: the session is recorded as signed out, so a copy of its cookie no longer
/// works anywhere, and the cookie is cleared. When the store cannot record it, the answer is an
/// error and the cookie stays: saying "signed out" then would be untrue for any copy.
pub(super) async fn sign_out(
    State(console): State<Console>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if let Some((_, claims)) = live_session(&console, &headers).await? {
        console
            .app()
            .engine
            .store
            .sign_out_session(&claims.id, claims.expires_at, console.now())
            .await
            .map_err(PageError::store)?;
        tracing::info!("Console session signed out.");
    }
    let cookie = set_cookie("", 0, console.0.secure);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/signin")).into_response())
}

#[cfg(test)]
mod tests {
    use super::{safe_next, set_cookie};

    #[test]
    fn the_session_cookie_is_http_only_strict_and_secure_behind_https() {
        assert_eq!(
            set_cookie("v", 60, true),
            "warden_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        assert!(!set_cookie("v", 60, false).contains("Secure"));
    }

    #[test]
    fn sign_in_returns_only_to_paths_on_this_site() {
        assert_eq!(
            safe_next(Some("/runs?status=failed")),
            "/runs?status=failed"
        );
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("/\n/evil.example")), "/");
        assert_eq!(safe_next(Some("/runs/a b")), "/");
        assert_eq!(safe_next(Some("evil.example")), "/");
        assert_eq!(safe_next(Some("/alerts/4f2a")), "/alerts/4f2a");
        assert_eq!(safe_next(None), "/");
    }
}
