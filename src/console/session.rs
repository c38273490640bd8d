//! The console's sessions, pure: a signed cookie value naming a random session id and its
//! expiry, the CSRF token derived from it, and the brake on repeated bad sign-ins. A live session
//! is stored nowhere, so any process serving the same API token accepts the same sessions and
//! changing the token signs everyone out; signing out stores the session's id until it would
//! have expired (`store::Sessions`), which every process checks.

use crate::hex::hex;
use crate::run::Millis;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::VecDeque;

type HmacSha256 = Hmac<Sha256>;

/// The session cookie's name.
pub const COOKIE: &str = "warden_session";

/// How long a session lasts: 12 hours.
pub const SESSION_MILLIS: Millis = 12 * 60 * 60 * 1000;

/// The key sessions and CSRF tokens are signed with.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(…)")
    }
}

impl SessionKey {
    /// The key derived from the API token: an HMAC of a fixed label keyed by the token, so the
    /// token itself never signs anything a browser holds.
    pub fn from_token(token: &str) -> SessionKey {
        let mut mac = new_mac(token.as_bytes());
        mac.update(b"warden console session key v1");
        SessionKey(mac.finalize().into_bytes().into())
    }

    /// A key of random bytes (no API token: `--dev`), valid until the process ends.
    pub fn random() -> Result<SessionKey, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(SessionKey(key))
    }

    fn sign(&self, message: &str) -> HmacSha256 {
        let mut mac = new_mac(&self.0);
        mac.update(message.as_bytes());
        mac
    }

    /// A new session cookie value with a random id, valid until `now` + [`SESSION_MILLIS`].
    pub fn issue(&self, now: Millis) -> Result<String, getrandom::Error> {
        Ok(self.issue_as(&crate::secrets::random_hex(16)?, now))
    }

    /// A new session cookie value for the session `id`, valid until `now` + [`SESSION_MILLIS`].
    pub fn issue_as(&self, id: &str, now: Millis) -> String {
        let expires = now + SESSION_MILLIS;
        let mac = self.sign(&format!("session:{id}:{expires}"));
        format!("v2.{id}.{expires}.{}", hex(&mac.finalize().into_bytes()))
    }

    /// The session `value` names, if this key issued it and it has not expired at `now` (whether
    /// it was signed out is for the store to say). Sessions issued before session ids (`v1.`)
    /// are not accepted: they could not be signed out.
    pub fn verify(&self, value: &str, now: Millis) -> Option<SessionClaims> {
        let mut parts = value.split('.');
        let (Some("v2"), Some(id), Some(expires), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let expires_at = expires.parse::<Millis>().ok()?;
        let mac = unhex(mac)?;
        let signed = self
            .sign(&format!("session:{id}:{expires_at}"))
            .verify_slice(&mac)
            .is_ok();
        (signed && expires_at > now).then(|| SessionClaims {
            id: id.to_owned(),
            expires_at,
        })
    }

    /// The CSRF token of a session (or of `"signin"`, `"dev"` before there is one): forms carry
    /// it, and a state-changing request without it is refused. A cross-site page cannot read it.
    pub fn csrf(&self, session: &str) -> String {
        hex(&self
            .sign(&format!("csrf:{session}"))
            .finalize()
            .into_bytes())
    }

    /// Whether `given` is the CSRF token of `session`, compared in constant time.
    pub fn csrf_matches(&self, session: &str, given: &str) -> bool {
        unhex(given).is_some_and(|given| {
            self.sign(&format!("csrf:{session}"))
                .verify_slice(&given)
                .is_ok()
        })
    }
}

/// What a verified session cookie says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaims {
    /// The session's random id (hex), what signing out records.
    pub id: String,
    /// When it expires.
    pub expires_at: Millis,
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// The brake on bad sign-ins: after [`Brake::LIMIT`] failures within [`Brake::WINDOW`], sign-ins
/// are refused until the oldest failure leaves the window. Process-wide rather than per address:
/// behind a proxy every address is the proxy's, and the token is long enough that the brake is
/// about noise and log floods, not about guessing.
#[derive(Debug, Default)]
pub struct Brake {
    failures: VecDeque<Millis>,
}

impl Brake {
    /// Failures allowed within the window.
    pub const LIMIT: usize = 10;
    /// The window: 5 minutes.
    pub const WINDOW: Millis = 5 * 60 * 1000;

    /// Until when sign-ins are refused, if they are at `now`.
    pub fn engaged_until(&mut self, now: Millis) -> Option<Millis> {
        while self
            .failures
            .front()
            .is_some_and(|at| *at + Brake::WINDOW <= now)
        {
            self.failures.pop_front();
        }
        (self.failures.len() >= Brake::LIMIT)
            .then(|| self.failures.front().map(|at| at + Brake::WINDOW))
            .flatten()
    }

    /// Records a bad sign-in at `now`.
    pub fn failed(&mut self, now: Millis) {
        self.failures.push_back(now);
        if self.failures.len() > Brake::LIMIT {
            self.failures.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Brake, SessionKey, SESSION_MILLIS};
    use hmac::Mac;

    #[test]
    fn an_issued_session_verifies_until_it_expires_and_names_its_id() {
        let key = SessionKey::from_token("token");
        let cookie = key.issue(1_000).unwrap();
        let claims = key.verify(&cookie, 1_000).unwrap();
        assert_eq!(claims.id.len(), 32);
        assert_eq!(claims.expires_at, 1_000 + SESSION_MILLIS);
        assert!(key.verify(&cookie, 1_000 + SESSION_MILLIS - 1).is_some());
        assert_eq!(key.verify(&cookie, 1_000 + SESSION_MILLIS), None);
        // Each sign-in is a session of its own, even within one millisecond.
        let other = key.verify(&key.issue(1_000).unwrap(), 1_000).unwrap();
        assert_ne!(other.id, claims.id);
    }

    #[test]
    fn a_session_from_another_token_edited_or_without_an_id_is_refused() {
        let key = SessionKey::from_token("token");
        let cookie = SessionKey::from_token("other").issue_as("ab", 1_000);
        assert_eq!(key.verify(&cookie, 1_000), None);
        let mine = key.issue_as("ab", 1_000);
        assert!(key.verify(&mine, 1_000).is_some());
        assert_eq!(key.verify(&mine.replacen(".ab.", ".ac.", 1), 1_000), None);
        let later = mine.replacen(".ab.", ".ab.9", 1);
        assert_eq!(key.verify(&later, 1_000), None);
        assert_eq!(key.verify("v2.ab.99999999999999.zz", 1_000), None);
        assert_eq!(key.verify("", 1_000), None);
        // A session from before ids (`v1.{expires}.{mac}`), correctly signed, is not accepted.
        let expires = 1_000 + SESSION_MILLIS;
        let mac = key
            .sign(&format!("session:{expires}"))
            .finalize()
            .into_bytes();
        let v1 = format!("v1.{expires}.{}", crate::hex::hex(&mac));
        assert_eq!(key.verify(&v1, 1_000), None);
    }

    #[test]
    fn the_csrf_token_belongs_to_its_session() {
        let key = SessionKey::from_token("token");
        let token = key.csrf("a");
        assert!(key.csrf_matches("a", &token));
        assert!(!key.csrf_matches("b", &token));
        assert!(!key.csrf_matches("a", ""));
        assert_ne!(token, SessionKey::from_token("other").csrf("a"));
    }

    #[test]
    fn the_brake_engages_after_the_limit_and_releases_after_the_window() {
        let mut brake = Brake::default();
        for i in 0..Brake::LIMIT as i64 - 1 {
            brake.failed(i);
        }
        assert_eq!(brake.engaged_until(100), None);
        brake.failed(100);
        assert_eq!(brake.engaged_until(101), Some(Brake::WINDOW));
        assert_eq!(brake.engaged_until(Brake::WINDOW), None);
    }
}
