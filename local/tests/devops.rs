//! The DevOps contract server as `up` runs it: Prism from the per-user cache, started detached on
//! a port of its own with a state folder of its own, checked, and stopped again.
//! Run with `scripts/test` (it installs Node.js and npm when missing).

use std::time::Duration;

use astra_local::devops;
use astra_local::processes::{self, Component, ProcessState};
use astra_local::progress::Progress;
use astra_local::state::{Paths, cache_dir};

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

#[tokio::test]
#[ignore = "needs Node.js, npm and the npm registry (or a cached Prism): run scripts/test"]
async fn contract_server_starts_checks_tokens_and_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = Paths::new(dir.path());
    let port = free_port();
    devops::up(&paths, port, &cache_dir(), &Progress::plain())
        .await
        .expect("up");

    let ProcessState::Running { pid, .. } = processes::state(&paths, Component::Devops) else {
        panic!("not running after up");
    };
    assert!(devops::spec_file(&paths).is_file());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let base = devops::url(port);

    // The contract: no token → 401; a token → the example; a broken request → 422.
    let anonymous = client.get(format!("{base}/v2/databases")).send().await.expect("answer");
    assert_eq!(anonymous.status(), 401);
    let listed = client
        .get(format!("{base}/v2/databases"))
        .bearer_auth("AstraCS:x:y")
        .send()
        .await
        .expect("answer");
    assert_eq!(listed.status(), 200);
    let body: serde_json::Value = listed.json().await.expect("JSON");
    assert!(body.as_array().is_some_and(|dbs| !dbs.is_empty()), "{body}");
    let broken = client
        .get(format!("{base}/v2/databases?limit=0"))
        .bearer_auth("AstraCS:x:y")
        .send()
        .await
        .expect("answer");
    assert_eq!(broken.status(), 422);

    // A second `up` finds it running and leaves it alone.
    devops::up(&paths, port, &cache_dir(), &Progress::plain())
        .await
        .expect("second up");
    let again = processes::state(&paths, Component::Devops);
    assert!(
        matches!(again, ProcessState::Running { pid: same, .. } if same == pid),
        "{again:?}"
    );

    processes::stop(Component::Devops, pid, Duration::from_secs(10))
        .await
        .expect("stop");
    processes::remove_pid_file(&paths, Component::Devops).expect("remove PID file");
    assert_eq!(processes::state(&paths, Component::Devops), ProcessState::Stopped);
}
