use switchyard_model::stats::{Sketch, StatsEntry, StatsReport};

use super::*;

fn report(entry: StatsEntry) -> StatsReport {
    StatsReport { edge: "edge-a/1/ff".into(), seq: 1, entries: vec![entry] }
}

fn ok() -> StatsEntry {
    StatsEntry {
        app: "cart".into(),
        version: 1,
        hour: 7200,
        page_views: 1,
        conversions: 1,
        revenue: [("EUR".to_owned(), 4990)].into(),
        visitors: Some(Sketch::default().to_hex()),
    }
}

#[test]
fn bad_reports_name_the_entry_and_the_problem() {
    let now = 10 * 3600;
    assert_eq!(validate(&report(ok()), now), Ok(()));
    let cases: Vec<(StatsEntry, &str)> = vec![
        (StatsEntry { app: "Bad App".into(), ..ok() }, "app name"),
        (StatsEntry { version: 0, ..ok() }, "versions start at 1"),
        (StatsEntry { hour: 7201, ..ok() }, "not the start of a past UTC hour"),
        (StatsEntry { hour: now + 2 * 3600, ..ok() }, "not the start of a past UTC hour"),
        (StatsEntry { revenue: [("eur".to_owned(), 1)].into(), ..ok() }, "revenue \"eur\""),
        (StatsEntry { revenue: [("EUR".to_owned(), -1)].into(), ..ok() }, "revenue \"EUR\" -1"),
        (StatsEntry { revenue: [("EUR".to_owned(), i64::MAX)].into(), ..ok() }, "hundredths from 0 to"),
        (StatsEntry { page_views: u64::MAX, ..ok() }, "counts are at most"),
        (StatsEntry { conversions: SUM_CAP as u64 + 1, ..ok() }, "counts are at most"),
        (StatsEntry { visitors: Some("00".into()), ..ok() }, "visitor sketch is 2048 bytes"),
    ];
    for (entry, want) in cases {
        let e = validate(&report(entry), now).unwrap_err();
        assert!(e.contains("entry 0") && e.contains(want), "{e:?} should name {want:?}");
    }
    let e = validate(&StatsReport { edge: String::new(), ..report(ok()) }, now).unwrap_err();
    assert!(e.contains("edge"), "{e}");
    let small = StatsEntry { visitors: None, ..ok() };
    let full = StatsReport { entries: vec![small.clone(); MAX_ENTRIES], ..report(ok()) };
    assert_eq!(validate(&full, now), Ok(()));
    let over = StatsReport { entries: vec![small; MAX_ENTRIES + 1], ..report(ok()) };
    assert!(validate(&over, now).unwrap_err().contains("at most 10000 entries"));
}

/// A tenant token posting to the edge route gets its 403 before a byte of the (up to 64 MiB)
/// body is read; an edge's or the operator's body is read and checked.
#[tokio::test]
async fn a_report_body_is_read_only_for_edge_tokens() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use crate::api::router;
    use crate::auth::TokenHash;
    use crate::config::{Args, Config};
    use crate::publish::Publisher;
    use crate::store::Store;

    const ADMIN: &str = "sya_unit_test_token_0123456789";
    const TENANT: &str = "syt_unit_test_tenant_0123456789";
    let dir = tempfile::tempdir().unwrap();
    let config =
        Config::load(Args { data: Some(dir.path().to_owned()), ..Args::default() }, Some(ADMIN.into())).unwrap();
    let mut store = Store::open(&dir.path().join("meta.db")).unwrap();
    store.set_admin_token(&TokenHash::of(ADMIN)).unwrap();
    store.create_tenant("acme", &TokenHash::of(TENANT)).unwrap();
    let publisher = Publisher::new(&mut store).unwrap();
    let blobs = switchyard_blob::LocalBlobStore::open(dir.path()).unwrap();
    let r = router(Api::new(store, Arc::new(blobs), publisher, config, tokio_util::sync::CancellationToken::new()));

    for (token, want, code) in
        [(TENANT, StatusCode::FORBIDDEN, "forbidden"), (ADMIN, StatusCode::BAD_REQUEST, "invalid_json")]
    {
        let read = Arc::new(AtomicBool::new(false));
        let flag = read.clone();
        let body = Body::from_stream(futures_util::stream::once(async move {
            flag.store(true, SeqCst);
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{not json"))
        }));
        let req = axum::http::Request::post("/v1/edge/stats")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(body)
            .unwrap();
        let res = r.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let json: serde_json::Value =
            serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!((status, json["error"]["code"].as_str()), (want, Some(code)), "{json}");
        assert_eq!(read.load(SeqCst), token == ADMIN, "body read with the {code} answer");
    }
}
