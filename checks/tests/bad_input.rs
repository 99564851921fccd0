//! The bad-input matrix (issue #14): every sample binary against every bad input that applies to
//! it (rows and columns in `checks::matrix`). Each run must fail with one `error:` line naming the
//! cause and the fix, a non-zero exit, no panic or backtrace and no token, within its bound.
//!
//! `without_the_stack` runs the cases that need no server of ours (missing and malformed
//! settings, typos, closed and silent ports, broken bundles, a local server answering 503/429);
//! `against_the_stack` the ones that need the local stack (a wrong token the server refuses, a
//! certificate from another CA). `scripts/reliability` runs both and prints the matrix; with
//! `RELIABILITY_DIR` set, each test writes its outcomes there as JSON.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use checks::matrix::{self, Case, Fixtures};

/// Cases run at once: most of a case is a child process waiting on a socket or a timeout.
const PARALLEL: usize = 8;

async fn run_matrix(name: &str, stack: bool) {
    let started = Instant::now();
    let fx = Arc::new(Fixtures::start().await);
    let (cases, others): (Vec<Case>, Vec<Case>) = Case::all(&fx).into_iter().partition(|c| c.needs_stack == stack);
    assert!(!cases.is_empty(), "no cases");
    let outcomes = matrix::run_all(cases, fx, PARALLEL).await;
    if let Some(path) = matrix::write_report(name, &outcomes, &others, started.elapsed()) {
        eprintln!("wrote {}", path.display());
    }
    let failed = matrix::failures(&outcomes);
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{failed}",
        outcomes.iter().filter(|o| !o.passed).count(),
        outcomes.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_stack() {
    run_matrix("bad-input-offline", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local stack: run scripts/test"]
async fn against_the_stack() {
    run_matrix("bad-input-stack", true).await;
}

/// Every sample of the workspace has a row: a new sample cannot be left out of the matrix.
#[test]
fn every_workspace_sample_has_a_row() {
    let rows: Vec<String> = matrix::SAMPLES.iter().map(|s| s.name.to_owned()).collect();
    let missing: Vec<String> = checks::workspace_samples()
        .into_iter()
        .filter(|name| !rows.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "samples without a row in checks::matrix::SAMPLES: {missing:?}"
    );
}
