//! End-to-end tests: the real `switchyard-control`, `switchyard-edge` and `switchyard`
//! binaries on free loopback ports, driven over HTTP and the command line.

mod archives;
mod browser;
mod cli;
mod e2e;
mod faults;
mod fleet;
mod incremental;
mod isolation;
mod previews;
mod restart;
mod s3;
mod serving;
mod split;
mod stats;
mod tls;
mod up;
