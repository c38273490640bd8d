//! Signed-out console sessions: remembered until they would have expired, forgotten after, and
//! signing one out twice is one record.

use super::{each_backend, T0};
use warden::store::Sessions;

#[tokio::test]
async fn a_signed_out_session_is_remembered_until_it_would_have_expired() {
    each_backend(|store| async move {
        store.sign_out_session("a1", T0 + 100, T0).await.unwrap();
        store.sign_out_session("a1", T0 + 100, T0).await.unwrap();
        assert!(store.session_signed_out("a1").await.unwrap());
        assert!(!store.session_signed_out("b2").await.unwrap());
        // A later sign-out forgets the sessions that have expired since (their cookies are
        // refused for their age anyway).
        store
            .sign_out_session("b2", T0 + 500, T0 + 100)
            .await
            .unwrap();
        assert!(!store.session_signed_out("a1").await.unwrap());
        assert!(store.session_signed_out("b2").await.unwrap());
    })
    .await;
}
