//! Least privilege on the wire, as the dev stack runs it: Redis and Kafka take no client without
//! a password, and each service's Redis user (`deploy/dev/redis.sh`) and Kafka user
//! (`deploy/dev/kafka.sh`, ACLs from the Kubernetes overlay's users.yaml) can do what its code
//! does and no more. Runs against the Redis of `WHISTLE_TEST_REDIS` and the broker of
//! `WHISTLE_TEST_KAFKA` (`cargo xtask test` passes the test suite's own users); the service users'
//! passwords come from `redis.sh url` and `kafka.sh password`, which read the run directory
//! (`WHISTLE_RUN`). Nothing here writes to Redis or Kafka: every write tried is one that must be
//! refused.

use std::path::Path;

use redis::aio::MultiplexedConnection;

fn test_redis() -> redis::ConnectionInfo {
    let url = std::env::var("WHISTLE_TEST_REDIS").expect("WHISTLE_TEST_REDIS is set by `cargo xtask test`");
    redis::IntoConnectionInfo::into_connection_info(url.as_str()).expect("WHISTLE_TEST_REDIS is a Redis URL")
}

/// `host:port` of the test Redis, without its credentials.
fn address() -> (String, u16) {
    match test_redis().addr().clone() {
        redis::ConnectionAddr::Tcp(host, port) => (host, port),
        other => panic!("WHISTLE_TEST_REDIS is not a TCP address: {other:?}"),
    }
}

async fn connect(url: &str) -> redis::RedisResult<MultiplexedConnection> {
    redis::Client::open(url)?.get_multiplexed_async_connection().await
}

/// PING over a connection to `url`: the error Redis answers, if any (at connect, when the
/// client logs in, or at the PING itself).
async fn ping(url: &str) -> Result<String, redis::RedisError> {
    let mut conn = connect(url).await?;
    redis::cmd("PING").query_async::<String>(&mut conn).await
}

/// What `deploy/dev/redis.sh url USER` prints for the test Redis's port.
fn user_url(user: &str) -> String {
    let (_, port) = address();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/dev/redis.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(["url", user])
        .env("WHISTLE_REDIS_PORT", port.to_string())
        .output()
        .expect("bash runs redis.sh");
    assert!(out.status.success(), "redis.sh url {user}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("text").trim().to_owned()
}

fn code(err: &redis::RedisError) -> String {
    err.code().map(str::to_owned).unwrap_or_else(|| format!("{err}"))
}

#[tokio::test]
async fn redis_refuses_a_client_without_a_password() {
    let (host, port) = address();
    let answer = ping(&format!("redis://{host}:{port}")).await;
    let err = answer.expect_err(
        "the dev stack's Redis must refuse a client that gives no password (redis.sh: ACL users; nobody is given the default user's password)",
    );
    assert_eq!(code(&err), "NOAUTH", "{err}");
}

#[tokio::test]
async fn redis_refuses_a_wrong_password_and_an_unknown_user() {
    let (host, port) = address();
    for url in [
        format!("redis://whistle-test:not-the-password@{host}:{port}"),
        format!("redis://default:anything@{host}:{port}"),
        format!("redis://nobody:guess@{host}:{port}"),
    ] {
        let err = ping(&url).await.expect_err("a wrong login is refused");
        assert_eq!(err.kind(), redis::ErrorKind::AuthenticationFailed, "{url}: {err}");
    }
}

/// The tries of one user: each command with the answer it must get (`None`: accepted).
async fn expect(user: &str, tries: &[(&[&str], Option<&str>)]) {
    let mut conn = connect(&user_url(user)).await.unwrap_or_else(|e| panic!("{user} logs in: {e}"));
    for (args, refused) in tries {
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        let answer = cmd.query_async::<redis::Value>(&mut conn).await;
        match (refused, answer) {
            (None, Ok(_)) => {}
            (None, Err(e)) => panic!("{user}: {args:?} must be allowed, got {e}"),
            (Some(want), Ok(v)) => panic!("{user}: {args:?} must be refused with {want}, got {v:?}"),
            (Some(want), Err(e)) => assert_eq!(code(&e), *want, "{user}: {args:?}: {e}"),
        }
    }
}

#[tokio::test]
async fn each_service_s_redis_user_may_do_what_its_code_does_and_no_more() {
    let unused = format!("whistle:wire-test:{}", uuid::Uuid::new_v4().simple());
    let revoked = format!("whistle:auth:revoked:{}", uuid::Uuid::new_v4());
    let case = format!("whistle:case:{}", uuid::Uuid::new_v4());
    // The ledger and the notifier only read the token denylist.
    for user in ["whistle-ledger", "whistle-notify"] {
        expect(
            user,
            &[
                (&["PING"], None),
                (&["MGET", &revoked, &revoked], None),
                (&["SET", &revoked, "1"], Some("NOPERM")),
                (&["HGET", &case, "json"], Some("NOPERM")),
                (&["FLUSHALL"], Some("NOPERM")),
            ],
        )
        .await;
    }
    // The registry reads cases (what-if) and the denylist, and writes nothing.
    expect(
        "whistle-registry",
        &[
            (&["HGET", &case, "json"], None),
            (&["SET", &unused, "1"], Some("NOPERM")),
            (&["DEL", &case], Some("NOPERM")),
        ],
    )
    .await;
    // The writers: their prefix only, nothing dangerous; the gateway may wake its blocked reader.
    for user in ["whistle-intake", "whistle-sla", "whistle-gateway"] {
        expect(
            user,
            &[
                (&["GET", &unused], None),
                (&["GET", "other:key"], Some("NOPERM")),
                (&["FLUSHALL"], Some("NOPERM")),
                (&["CONFIG", "SET", "maxmemory", "1"], Some("NOPERM")),
                (&["KEYS", "*"], Some("NOPERM")),
                (&["ACL", "LIST"], Some("NOPERM")),
                (&["PUBLISH", "whistle:channel", "x"], Some("NOPERM")),
            ],
        )
        .await;
    }
    expect("whistle-gateway", &[(&["CLIENT", "UNBLOCK", "999999999"], None)]).await;
    expect("whistle-intake", &[(&["CLIENT", "UNBLOCK", "999999999"], Some("NOPERM"))]).await;
}

/// `deploy/dev/redis.sh CMD...` in the private run directory `run`, on `port`.
fn own_redis(run: &Path, port: u16, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/dev/redis.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(args)
        .env("WHISTLE_RUN", run)
        .env("WHISTLE_REDIS_PORT", port.to_string())
        .env_remove("WHISTLE_REDIS__KEY_PREFIX")
        .output()
        .expect("bash runs redis.sh");
    assert!(
        out.status.success(),
        "redis.sh {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("text").trim().to_owned()
}

/// Redis replays its append-only file as the default user and (7.x) re-checks each MULTI/EXEC
/// against that user's rights: with the default user turned off, a restart silently dropped
/// every transaction the services had written (the fault suite lost 350 cases so). The dev
/// stack's users keep a restart whole.
#[tokio::test]
async fn a_restart_of_the_dev_redis_keeps_what_the_services_wrote_in_transactions() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let run = std::env::temp_dir().join(format!("whistle-wire-{}", uuid::Uuid::new_v4().simple()));
    struct Stop<'a>(&'a Path, u16);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = std::panic::catch_unwind(|| own_redis(self.0, self.1, &["stop"]));
            if !std::thread::panicking() {
                let _ = std::fs::remove_dir_all(self.0);
            }
        }
    }
    own_redis(&run, port, &["start"]);
    let _stop = Stop(&run, port);
    let url = own_redis(&run, port, &["url", "whistle-intake"]);
    let mut conn = connect(&url).await.expect("intake logs in");
    let () = redis::pipe()
        .atomic()
        .hset("whistle:case:wire", "json", "{}")
        .ignore()
        .zadd("whistle:index:wire", "wire", 1)
        .ignore()
        .query_async(&mut conn)
        .await
        .expect("a transaction as intake");
    let () = redis::cmd("SET").arg("whistle:plain:wire").arg("1").query_async(&mut conn).await.expect("a plain write");
    drop(conn);
    own_redis(&run, port, &["restart"]);
    let mut conn = connect(&url).await.expect("intake logs in again");
    let (json, score, plain): (Option<String>, Option<f64>, Option<String>) = redis::pipe()
        .hget("whistle:case:wire", "json")
        .zscore("whistle:index:wire", "wire")
        .get("whistle:plain:wire")
        .query_async(&mut conn)
        .await
        .expect("reads");
    assert_eq!(plain.as_deref(), Some("1"), "a plain write survives the restart");
    assert_eq!(
        (json.as_deref(), score),
        (Some("{}"), Some(1.0)),
        "a MULTI/EXEC survives the restart (see the Redis log in {})",
        run.display()
    );
}

/// The dev broker takes SASL/SCRAM logins only (`deploy/dev/kafka.sh`): a client that does not
/// log in gets no metadata, and one with a wrong password neither.
#[tokio::test]
async fn kafka_refuses_a_client_without_a_login() {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    let brokers = std::env::var("WHISTLE_TEST_KAFKA").expect("WHISTLE_TEST_KAFKA is set by `cargo xtask test`");
    let open = whistle_common::settings::KafkaSettings { brokers: brokers.clone(), ..Default::default() };
    let wrong = whistle_common::settings::KafkaSettings {
        brokers,
        security_protocol: "sasl_plaintext".into(),
        sasl_username: Some("whistle-test".into()),
        sasl_password: Some("not-the-password".to_owned().into()),
        ..Default::default()
    };
    for (what, settings) in [("no login", open), ("a wrong password", wrong)] {
        let answer = tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer =
                whistle_common::kafka::client_config(&settings).create().expect("a client is created");
            consumer.fetch_metadata(None, std::time::Duration::from_secs(5)).map(|m| m.brokers().len())
        })
        .await
        .expect("join");
        assert!(answer.is_err(), "the dev broker answered a client with {what}: {answer:?}");
    }
    // The suite's own login is accepted.
    let login = whistle_tests::test_kafka_login(whistle_common::settings::KafkaSettings {
        brokers: std::env::var("WHISTLE_TEST_KAFKA").expect("set"),
        ..Default::default()
    });
    let answer = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = whistle_common::kafka::client_config(&login).create().expect("a client");
        consumer.fetch_metadata(None, std::time::Duration::from_secs(10)).map(|m| m.brokers().len())
    })
    .await
    .expect("join");
    assert!(answer.is_ok(), "whistle-test logs in: {answer:?}");
}

/// `deploy/dev/kafka.sh password USER`: a service user's SCRAM password, from the run directory.
fn kafka_login(user: &str) -> whistle_common::settings::KafkaSettings {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/dev/kafka.sh");
    let out =
        std::process::Command::new("bash").arg(&script).args(["password", user]).output().expect("bash runs kafka.sh");
    assert!(out.status.success(), "kafka.sh password {user}: {}", String::from_utf8_lossy(&out.stderr));
    whistle_common::settings::KafkaSettings {
        brokers: std::env::var("WHISTLE_TEST_KAFKA").expect("WHISTLE_TEST_KAFKA is set by `cargo xtask test`"),
        security_protocol: "sasl_plaintext".into(),
        sasl_username: Some(user.to_owned()),
        sasl_password: Some(String::from_utf8(out.stdout).expect("text").trim().to_owned().into()),
        ..Default::default()
    }
}

/// What the broker answers `user` producing one record to `topic`, which the user must not
/// write: `TOPIC_AUTHORIZATION_FAILED` (a Produce request refused writes nothing). A broker without
/// the ACLs would take the record, a payload no consumer decodes (they dead-letter it), and the
/// test fails on the answer.
async fn produce_refused(user: &str, topic: &str) -> Option<rdkafka::types::RDKafkaErrorCode> {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = whistle_common::kafka::client_config(&kafka_login(user))
        .set("message.timeout.ms", "10000")
        .create()
        .expect("a producer");
    let record =
        FutureRecord::<str, str>::to(topic).key("acl-probe").payload("wire.rs: a write this user must not make");
    match producer.send(record, std::time::Duration::from_secs(10)).await {
        Ok(_) => None,
        Err((err, _)) => err.rdkafka_error_code(),
    }
}

/// Whether `user` may start transactions under `id` (InitProducerId for a transactional id).
async fn init_transactions(user: &str, id: &str) -> Result<(), rdkafka::error::KafkaError> {
    use rdkafka::producer::{BaseProducer, Producer as _};
    let settings = kafka_login(user);
    let id = id.to_owned();
    tokio::task::spawn_blocking(move || {
        let producer: BaseProducer =
            whistle_common::kafka::client_config(&settings).set("transactional.id", &id).create()?;
        producer.init_transactions(std::time::Duration::from_secs(15))
    })
    .await
    .expect("join")
}

/// The dev broker authorises each service's Kafka user as the Kubernetes overlay's KafkaUsers do
/// (deploy/kubernetes/base/kafka/users.yaml, applied by `kafka.sh acls`): the projector's user
/// cannot write case events, the ledger's and the notifier's neither, intake and the ledger cannot
/// write the registry, intake cannot write the dead letters, and only the router's user may open
/// transactions under `whistle-router-*` (which it can: a refusal is the ACL's, not a broken
/// login; the running stack's services are the other half of the check).
#[tokio::test]
async fn each_service_s_kafka_user_may_do_what_users_yaml_grants_and_no_more() {
    use rdkafka::types::RDKafkaErrorCode::{TopicAuthorizationFailed, TransactionalIdAuthorizationFailed};
    for (user, topic) in [
        ("whistle-gateway", "whistle.cases.v1"),
        ("whistle-ledger", "whistle.cases.v1"),
        ("whistle-notify", "whistle.cases.v1"),
        ("whistle-ledger", "whistle.registry.v1"),
        ("whistle-intake", "whistle.registry.v1"),
        ("whistle-intake", "whistle.deadletter.v1"),
    ] {
        let answer = produce_refused(user, topic).await;
        assert_eq!(answer, Some(TopicAuthorizationFailed), "{user} producing to {topic}");
    }
    let probe = uuid::Uuid::new_v4().simple().to_string();
    let refused = init_transactions("whistle-gateway", &format!("whistle-router-probe-{probe}")).await;
    assert_eq!(
        refused.as_ref().err().and_then(|e| e.rdkafka_error_code()),
        Some(TransactionalIdAuthorizationFailed),
        "the gateway's user opening a router transaction: {refused:?}"
    );
    let allowed = init_transactions("whistle-router", &format!("whistle-router-probe-{probe}")).await;
    assert!(allowed.is_ok(), "the router's user opens a transaction under whistle-router-*: {allowed:?}");
}
