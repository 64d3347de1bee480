use std::time::Instant;

use bytes::Bytes;
use http::{Response, StatusCode};
use switchyard_model::stats::Sketch;
use switchyard_model::tagging::VisitorId;

use super::*;
use crate::serve::Body;

fn response(status: StatusCode, body: Body) -> Response<Body> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    res
}

fn html() -> Body {
    Body::Bytes(Some(Bytes::from_static(b"<html></html>")))
}

#[test]
fn page_views_are_html_responses_to_get_with_their_visitors() {
    let metrics = Metrics::new();
    let v = metrics.version("cart", 3);
    let t = Instant::now();
    for n in 0..5u128 {
        record(&v, true, || Some(VisitorId(n % 3)), &response(StatusCode::OK, html()), t);
    }
    record(&v, true, || None, &response(StatusCode::NOT_MODIFIED, Body::Empty), t);
    // Not page views: an asset or a HEAD (`page` false), a 404 page.
    record(&v, false, || Some(VisitorId(9)), &response(StatusCode::OK, html()), t);
    record(&v, true, || Some(VisitorId(9)), &response(StatusCode::NOT_FOUND, html()), t);
    let d = metrics.take(0);
    let got = d.get("cart", 3, 0).unwrap();
    assert_eq!(got.page_views, 6);
    let mut want = Sketch::default();
    for n in 0..3u128 {
        want.insert(VisitorId(n));
    }
    assert_eq!(got.visitors.as_ref().unwrap(), &want, "the atomic sketch equals the model's");
    assert_eq!(want.estimate(), 3);
}

#[test]
fn prometheus_text_has_exact_counts_by_status_class_and_body_source() {
    let metrics = Metrics::new();
    let v = metrics.version("cart", 1);
    let t = Instant::now();
    record(&v, true, || None, &response(StatusCode::OK, html()), t);
    record(&v, true, || None, &response(StatusCode::OK, html()), t);
    record(&v, true, || None, &response(StatusCode::NOT_MODIFIED, Body::Empty), t);
    record(&v, false, || None, &response(StatusCode::NOT_FOUND, Body::Bytes(Some(Bytes::from_static(b"nf\n")))), t);
    v.event(Outcome::Invalid);
    assert!(v.conversion(None));
    assert_eq!(v.requests(1, 0), 2);
    let text = metrics.encode(42);
    for line in [
        "switchyard_edge_revision 42",
        "switchyard_edge_requests_total{app=\"cart\",version=\"v1\",status=\"2xx\",cache=\"hit\"} 2",
        "switchyard_edge_requests_total{app=\"cart\",version=\"v1\",status=\"3xx\",cache=\"none\"} 1",
        "switchyard_edge_requests_total{app=\"cart\",version=\"v1\",status=\"4xx\",cache=\"hit\"} 1",
        "switchyard_edge_response_bytes_total{app=\"cart\",version=\"v1\"} 29",
        "switchyard_edge_request_duration_seconds_bucket{app=\"cart\",version=\"v1\",le=\"+Inf\"} 4",
        "switchyard_edge_request_duration_seconds_count{app=\"cart\",version=\"v1\"} 4",
        "switchyard_edge_events_total{app=\"cart\",version=\"v1\",outcome=\"accepted\"} 1",
        "switchyard_edge_events_total{app=\"cart\",version=\"v1\",outcome=\"invalid\"} 1",
        "# TYPE switchyard_edge_request_duration_seconds histogram",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    // Buckets are cumulative and never decrease.
    let buckets: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("switchyard_edge_request_duration_seconds_bucket"))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
}

/// Junk currencies fill the table for one report window at most, and never cost a
/// conversion: past the last slot only the revenue is dropped, visibly.
#[test]
fn a_full_currency_table_drops_only_revenue_and_empties_at_each_report() {
    let metrics = Metrics::new();
    let v = metrics.version("cart", 1);
    for i in 0..CURRENCY_SLOTS as u8 {
        assert!(v.conversion(Some(([b'J', b'N', b'A' + i], 1))), "junk currency {i} claims a slot");
    }
    assert!(v.conversion(Some((*b"JNA", 1))), "a held currency still adds up");
    assert!(!v.conversion(Some((*b"EUR", 4990))), "the table is full: revenue dropped");
    assert!(v.conversion(None));
    let text = metrics.encode(0);
    for line in [
        "switchyard_edge_events_total{app=\"cart\",version=\"v1\",outcome=\"accepted\"} 18",
        "switchyard_edge_events_total{app=\"cart\",version=\"v1\",outcome=\"revenue_dropped\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    let d = metrics.take(0);
    let got = d.get("cart", 1, 0).unwrap();
    assert_eq!(got.conversions, CURRENCY_SLOTS as u64 + 3, "every conversion counted");
    assert_eq!(got.revenue.len(), CURRENCY_SLOTS);
    assert_eq!(got.revenue["JNA"], 2);
    assert!(!got.revenue.contains_key("EUR"));
    // The report took the table: the next window counts EUR again.
    assert!(v.conversion(Some((*b"EUR", 4990))));
    let d = metrics.take(3600);
    let got = d.get("cart", 1, 3600).unwrap();
    assert_eq!((got.conversions, got.revenue.clone()), (1, [("EUR".to_owned(), 4990)].into()));
}
