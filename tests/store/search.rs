//! Payload search over more runs than a search compares one by one (`SEARCH_WINDOW`), so the
//! older ones come from the search index and its queue: the same answers before the indexer ran,
//! after it ran, and for a run created after it ran; wildcards literal, short texts, filters and
//! paging across the window's edge; pruned runs leave the index and the queue.

use super::{each_backend, new_run, run_ids, support, T0};
use serde_json::json;
use sqlx::Row;
use warden::store::{NewRun, Retention, RunFilter, Runs, SearchIndex, SqlStore, SEARCH_WINDOW};

/// More runs than the window, so the oldest are found only through the index and its queue.
const RUNS: usize = SEARCH_WINDOW as usize + 100;

fn id(n: usize) -> String {
    format!("r{n:05}")
}

/// Run `n`'s entry event: an alert id and an IP each run has, and a few texts only some have:
/// `Needle-Old` in two of the oldest runs (in two cases) and the newest, `100%_sure` (`LIKE`'s
/// wildcards) and a two-character `~^` in one old run each.
fn run(n: usize) -> NewRun {
    let mut run = new_run(&id(n), None);
    run.story_id = if n == 4 { "b" } else { "a" }.into();
    run.payload = json!({"body": {"alertId": format!("ALERT-{n}"), "ip": format!("10.0.{}.{}", n / 250, n % 250)}});
    let note = match n {
        3 => Some("needle-old"),
        4 => Some("NEEDLE-OLD"),
        7 => Some("100%_sure"),
        8 => Some("x~^x"),
        n if n == RUNS - 1 => Some("Needle-Old"),
        _ => None,
    };
    if let Some(note) = note {
        run.payload["body"]["note"] = json!(note);
    }
    run
}

async fn search(store: &SqlStore, q: &str, filter: RunFilter) -> Vec<String> {
    let filter = RunFilter {
        q: Some(q.into()),
        ..filter
    };
    run_ids(store, filter).await
}

async fn index_everything(store: &SqlStore) {
    while store.index_queued_entries(64).await.unwrap() > 0 {}
    assert_eq!(store.search_queue(None).await.unwrap().queued, 0);
}

/// The answers every search must give, wherever the entry events are (queued or indexed).
async fn assert_answers(store: &SqlStore, newest: &[String]) {
    let mut needles = newest.to_vec();
    needles.extend([id(4), id(3)]);
    assert_eq!(
        search(store, "needle-OLD", RunFilter::default()).await,
        needles
    );
    assert_eq!(
        search(store, "100%_sure", RunFilter::default()).await,
        [id(7)]
    );
    assert!(search(store, "1%0", RunFilter::default()).await.is_empty());
    assert!(search(store, "a_e", RunFilter::default()).await.is_empty());
    assert_eq!(search(store, "~^", RunFilter::default()).await, [id(8)]);
    assert_eq!(
        search(store, r#""alertId":"ALERT-5""#, RunFilter::default()).await,
        [id(5)]
    );
    let story_b = RunFilter {
        story_id: Some("b".into()),
        ..RunFilter::default()
    };
    assert_eq!(search(store, "needle", story_b).await, [id(4)]);
    // A page that ends past the window's edge, and the next one by cursor.
    let two = RunFilter {
        limit: 2,
        ..RunFilter::default()
    };
    let first = search(store, "needle", two.clone()).await;
    assert_eq!(first, needles[..2]);
    let next = RunFilter {
        before: Some(first[1].clone()),
        ..two
    };
    assert_eq!(
        search(store, "needle", next).await,
        needles[2..4.min(needles.len())]
    );
    // A common text fills its page from the newest runs.
    let common = search(store, "alert-", RunFilter::default()).await;
    assert_eq!(common.len(), 50);
    assert_eq!(common[0], newest[0]);
}

#[tokio::test]
async fn runs_are_found_whether_their_entry_event_is_queued_or_indexed() {
    each_backend(|store| async move {
        let runs: Vec<NewRun> = (0..RUNS).map(run).collect();
        store.create_runs(&runs, T0).await.unwrap();
        assert_eq!(store.search_queue(None).await.unwrap().queued, RUNS as u64);
        // Before the indexer ran: every entry event is found through the queue.
        assert_answers(&store, &[id(RUNS - 1)]).await;

        index_everything(&store).await;
        assert_answers(&store, &[id(RUNS - 1)]).await;

        // A run created just now is found before the indexer ran again.
        let mut late = run(RUNS);
        late.payload["body"]["note"] = json!("NEEDLE-old");
        store.create_runs(&[late], T0 + 1_000).await.unwrap();
        assert_eq!(store.search_queue(None).await.unwrap().queued, 1);
        assert_answers(&store, &[id(RUNS), id(RUNS - 1)]).await;
        index_everything(&store).await;
        assert_answers(&store, &[id(RUNS), id(RUNS - 1)]).await;
    })
    .await;
}

#[tokio::test]
async fn pruned_runs_leave_the_search_index_and_its_queue() {
    support::each_backend(|db| async move {
        let store = SqlStore::open(&db.url).await.unwrap();
        let finished = |n: usize| {
            let mut run = run(n);
            run.receivers.clear();
            run
        };
        store.create_runs(&[finished(3)], T0).await.unwrap();
        index_everything(&store).await;
        store.create_runs(&[finished(4)], T0).await.unwrap();
        assert_eq!(store.search_queue(None).await.unwrap().queued, 1);
        assert_eq!(rows(&db.url, "run_search").await, 1);

        assert_eq!(store.prune_runs(T0 + 1, T0 + 1, 10).await.unwrap(), 2);
        assert_eq!(store.search_queue(None).await.unwrap().queued, 0);
        assert_eq!(rows(&db.url, "run_search").await, 0);
        // The index still takes and finds new entries (SQLite may reuse a pruned event's id).
        store.create_runs(&[finished(3)], T0 + 2).await.unwrap();
        index_everything(&store).await;
        assert_eq!(rows(&db.url, "run_search").await, 1);
        assert_eq!(
            search(&store, "needle", RunFilter::default()).await,
            [id(3)]
        );
        store.close().await;
        db
    })
    .await;
}

/// The rows of `table`, counted over a connection of the test's own.
async fn rows(url: &str, table: &str) -> i64 {
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let count = sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    pool.close().await;
    count
}
