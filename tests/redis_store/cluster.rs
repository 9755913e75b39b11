//! The store on a real 3-master Redis Cluster: the same semantics as on
//! one server (every script and the session check on one hash slot, or
//! the Cluster would refuse them), keys spread over the masters, and a
//! master that loses its data never brings a logged-out cookie back.

use crate::checks;
use crate::support::{gateway, upstream, Gw, Shop, H1, PHONE};
use crate::topology::{cli, Cluster};

async fn instance(shop: &Shop, cluster: &Cluster) -> Gw {
    // The one process-wide log subscriber, installed before any gateway
    // logs (a callsite first hit without it may stay silent for the tests
    // that read the log).
    crate::data_loss::operator_log();
    let urls: Vec<String> = cluster.urls().iter().map(|u| format!("\"{u}\"")).collect();
    gateway(shop)
        .route("/checkout", "otp")
        .set("store.backend", "\"redis\"")
        .set(
            "store.redis_cluster_urls",
            &format!("[{}]", urls.join(", ")),
        )
        .run()
        .await
}

#[tokio::test]
async fn store_semantics_on_a_cluster() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let (a, b) = (cluster.store().await, cluster.store().await);
    checks::every_check(&a, &b, || cluster.flush()).await;
    // The work is sharded: challenges and counters land on every master.
    cluster.flush();
    for i in 0..60 {
        let ch = otpgate::store::Challenge {
            phone: PHONE.into(),
            code_hash: [1; 16],
            sent_at: 0,
            expires_at: 10_000,
            attempts: 0,
            sends: 1,
        };
        otpgate::store::Store::put_challenge(&a, &format!("id{i}"), ch)
            .await
            .unwrap();
    }
    for n in &cluster.nodes {
        let keys: u64 = cli(n.port, &["DBSIZE"]).trim().parse().unwrap();
        assert!(keys > 0, "master {} holds none of 60 challenges", n.port);
    }
    // Revocations are not sharded: all live with the epoch (see
    // `store/redis/keys.rs` for why a logout must share the epoch's fate).
    use otpgate::store::Store;
    a.epoch().await.unwrap();
    for i in 0..20 {
        a.revoke(&format!("sid{i}"), 4_000_000_000_000)
            .await
            .unwrap();
    }
    for n in &cluster.nodes {
        let revs = cli(n.port, &["KEYS", "otpgate:rev:*"])
            .lines()
            .filter(|l| l.contains("otpgate:rev:"))
            .count();
        let epoch_here = cli(n.port, &["EXISTS", "otpgate:epoch"]).trim() == "1";
        assert_eq!(revs, if epoch_here { 20 } else { 0 }, "master {}", n.port);
    }
}

/// Two instances on one Cluster: a sign-in on one is a session on the
/// other, a logout on one is enforced by the other; then the master that
/// holds the revocation loses its data (restarted empty, flushed) and the
/// logged-out cookie is still refused — the revocation shares that
/// master with the store's epoch, so the loss is seen.
#[tokio::test]
async fn sign_in_and_logout_across_instances_and_data_loss() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let shop = upstream().await;
    let (one, two) = (
        instance(&shop, &cluster).await,
        instance(&shop, &cluster).await,
    );
    let mut b = one.browser(H1);
    b.log_in(PHONE, "/checkout").await;
    let kept = b.cookies.clone();
    let mut on_two = two.browser(H1);
    on_two.cookies = kept.clone();
    assert_eq!(
        on_two.get("/checkout").await.status,
        200,
        "a session on both"
    );
    let page = b.get("/.otpgate/login").await;
    let out = b
        .post_form("/.otpgate/logout", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(out.status, 303);
    crate::status_within(&mut on_two, "/checkout", 302, "logged out on both").await;

    let holder = cluster
        .nodes
        .iter()
        .find(|n| cli(n.port, &["KEYS", "otpgate:rev:*"]).contains("otpgate:rev:"))
        .expect("a master holds the revocation");
    assert_eq!(cli(holder.port, &["FLUSHALL"]).trim(), "OK");
    for gw in [&one, &two] {
        let mut replay = gw.browser(H1);
        replay.cookies = kept.clone();
        crate::status_within(
            &mut replay,
            "/checkout",
            302,
            "the revocation is gone, and so is the epoch it was kept with",
        )
        .await;
    }
    let mut again = two.browser(H1);
    again.log_in(PHONE, "/checkout").await;
    assert_eq!(again.get("/checkout").await.status, 200);
}
