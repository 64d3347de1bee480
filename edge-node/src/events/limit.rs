//! A token bucket per client, in a map with a size cap.
//!
//! Why not `governor`: its keyed limiter grows without bound unless pruned from outside and
//! brings its own clock and map types; events are a slow path (a lock per event is fine),
//! and what matters here is a hard memory bound. Buckets that have refilled completely hold
//! nothing a fresh bucket would not, so they are dropped when the map is full; if it is still
//! full, new clients are refused (`429`) until buckets refill: an address-spraying client
//! cannot grow the edge's memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Clients tracked at once (about 40 bytes each).
pub(crate) const MAX_CLIENTS: usize = 100_000;

pub(crate) struct RateLimiter {
    burst: f64,
    per_second: f64,
    cap: usize,
    buckets: Mutex<HashMap<u128, Bucket, foldhash::fast::RandomState>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub(crate) fn new(burst: u32, per_second: u32, cap: usize) -> RateLimiter {
        RateLimiter {
            burst: f64::from(burst),
            per_second: f64::from(per_second),
            cap,
            buckets: Mutex::new(HashMap::default()),
        }
    }

    /// Takes one token for `ip` at `now`; `Err` with how long until one is available.
    pub(crate) fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = client_key(ip);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(&key) && buckets.len() >= self.cap {
            let (burst, rate) = (self.burst, self.per_second);
            buckets.retain(|_, b| refilled(b, now, burst, rate) < burst);
            if buckets.len() >= self.cap {
                tracing::warn!(clients = buckets.len(), "event rate limiter full: refusing new clients");
                return Err(Duration::from_secs(1));
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: self.burst, at: now });
        bucket.tokens = refilled(bucket, now, self.burst, self.per_second);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(((1.0 - bucket.tokens) / self.per_second).ceil().max(1.0)))
        }
    }

    #[cfg(test)]
    pub(crate) fn clients(&self) -> usize {
        self.buckets.lock().unwrap().len()
    }
}

fn refilled(b: &Bucket, now: Instant, burst: f64, per_second: f64) -> f64 {
    (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second).min(burst)
}

/// An IPv4 client by its address, an IPv6 one by its /64 (one subscriber's usual allocation).
fn client_key(ip: IpAddr) -> u128 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => u128::from(u32::from(v4)) | (1u128 << 127),
        IpAddr::V6(v6) => u128::from(v6) & !((1u128 << 64) - 1),
    }
}
