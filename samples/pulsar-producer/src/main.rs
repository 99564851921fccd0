//! sample-pulsar-producer: send messages to an Astra Streaming topic and read them back with the
//! `pulsar` crate, over TLS with token authentication: message keys and properties, batching, and
//! a named subscription whose messages are acknowledged one by one.
//!
//! ```text
//! cargo run -p sample-pulsar-producer                          # send 10 messages, read them back
//! cargo run -p sample-pulsar-producer -- --messages 1000       # or SAMPLE_PULSAR_MESSAGES=1000
//! cargo run -p sample-pulsar-producer -- --consume             # watch the topic until Ctrl-C
//! cargo run -p sample-pulsar-producer -- --consume --for 60    # ... for at most 60 s
//! ```
//!
//! Variables: `ASTRA_STREAMING_SERVICE_URL` (pulsar+ssl://…:6651), `ASTRA_STREAMING_TOKEN`,
//! `ASTRA_STREAMING_TENANT`, `ASTRA_STREAMING_NAMESPACE`, `ASTRA_STREAMING_TOPIC`, and for the
//! local stack only `ASTRA_STREAMING_CA_PATH`. Settings come from the environment or `.env`.
//! Walkthrough: samples/pulsar-producer/README.md.

mod pulsar_log;

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use common::{Token, settings};
use futures::TryStreamExt;
use pulsar::consumer::{InitialPosition, Message};
use pulsar::{
    Authentication, ConnectionRetryOptions, Consumer, ConsumerOptions, OperationRetryOptions, ProducerOptions, Pulsar,
    SubType, TokioExecutor,
};
use tokio::sync::watch;
use tokio::time::timeout;

/// Connecting (TCP, TLS, authentication, with the retries below) must finish within this time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Creating a producer or consumer, closing one, removing a subscription.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(15);
/// Every receipt of a run's messages must be back within this time.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// While reading back a run's messages, the longest wait for the next one.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest time spent emptying a consumer's receive queue before closing it (see `drain`).
const DRAIN_LIMIT: Duration = Duration::from_secs(3);
/// How many received messages are printed one per line (the rest are counted).
const SHOWN_MESSAGES: usize = 10;
/// The subscription `--consume` reads through unless `--subscription` names another.
const WATCH_SUBSCRIPTION: &str = "sample-pulsar-watch";

#[derive(Parser)]
#[command(about = "Send messages to an Astra Streaming topic and read them back, or watch a topic (--consume).")]
struct Args {
    /// How many messages to send and read back.
    #[arg(long, env = "SAMPLE_PULSAR_MESSAGES", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    messages: u32,
    /// Pad each message's payload with dots to this many bytes (try your application's message size).
    #[arg(long, value_name = "BYTES", default_value_t = 0, conflicts_with = "consume",
          value_parser = clap::value_parser!(u32).range(0..=1_048_576))]
    size: u32,
    /// Only watch the topic: print and acknowledge each message that arrives, until Ctrl-C.
    #[arg(long)]
    consume: bool,
    /// With --consume: stop after this many seconds.
    #[arg(long = "for", value_name = "SECONDS", requires = "consume",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    for_seconds: Option<u64>,
    /// With --consume: the subscription to read through. It keeps its place between runs.
    #[arg(long, default_value = WATCH_SUBSCRIPTION, requires = "consume")]
    subscription: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "sample_pulsar_producer=info".into()),
        )
        .with_writer(std::io::stderr)
        .finish();
    // Not `.init()`: that would also claim the `log` facade, which `pulsar_log` needs (see there).
    let _ = tracing::subscriber::set_global_default(subscriber);
    pulsar_log::install();
    // One TLS stack for the whole program: rustls with the aws-lc-rs crypto provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: what failed, then why ("a: b: c").
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    settings::load_dotenv()?;
    let ctrl_c = CtrlC::listen();
    let streaming = Streaming::from_env()?;
    let started = Instant::now();

    // 1. Connect: one TLS connection to the broker, authenticated by the token.
    let pulsar = connect(&streaming).await?;

    if args.consume {
        let limit = args.for_seconds.map(Duration::from_secs);
        return watch_topic(&pulsar, &streaming.topic, &args.subscription, limit, ctrl_c).await;
    }

    // 2. Subscribe first: a subscription keeps only the messages published after it exists.
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let subscription = format!("sample-pulsar-producer-{run_id}");
    let mut consumer = subscribe(&pulsar, &streaming.topic, &subscription, SubType::Exclusive).await?;

    // 3–5. Send, read back, check. Whatever happens, remove the run's subscription afterwards.
    let outcome = send_and_read_back(
        &pulsar,
        &streaming.topic,
        &mut consumer,
        &run_id,
        args.messages,
        args.size as usize,
        ctrl_c,
    )
    .await;
    if outcome.is_err() {
        drain(&mut consumer).await;
    }
    remove_subscription(&mut consumer, &subscription).await;
    let (sent, received) = outcome?;

    // 6. The summary.
    println!(
        "Summary: sent {}, received {}, acknowledged {}, elapsed {:.2} s (produce {:.0} msg/s, consume {:.0} msg/s).",
        sent.count,
        received.ours,
        received.acknowledged,
        started.elapsed().as_secs_f64(),
        rate(sent.count.into(), sent.elapsed),
        rate(received.ours, received.elapsed),
    );
    Ok(())
}

async fn send_and_read_back(
    pulsar: &Pulsar<TokioExecutor>,
    topic: &str,
    consumer: &mut Consumer<String, TokioExecutor>,
    run_id: &str,
    count: u32,
    size: usize,
    ctrl_c: CtrlC,
) -> anyhow::Result<(Sent, Received)> {
    let sent = send_messages(pulsar, topic, run_id, count, size, &ctrl_c).await?;
    let received = receive_and_acknowledge(consumer, run_id, count, size, ctrl_c).await?;
    check_exactly_once(&received.tally)?;
    Ok((sent, received))
}

/// Where and how to connect, from the environment.
struct Streaming {
    /// The broker service URL, always with a port.
    url: String,
    token: Token,
    /// The full topic name, `persistent://tenant/namespace/topic`.
    topic: String,
    /// A CA to trust besides the public ones (local stack only), and where it came from.
    ca: Option<(PathBuf, Vec<u8>)>,
}

impl Streaming {
    fn from_env() -> anyhow::Result<Self> {
        let var = settings::ASTRA_STREAMING_SERVICE_URL;
        let mut url = settings::url(var, &["pulsar+ssl", "pulsar"])?;
        let token = settings::token(settings::ASTRA_STREAMING_TOKEN)?;
        let tls = url.scheme() == "pulsar+ssl";
        let host = url.host_str().unwrap_or_default().to_owned();
        if !tls && !is_loopback(&host) {
            // The token travels in the CONNECT frame: without TLS anyone on the path can read it.
            bail!(
                "{} is a plaintext pulsar:// URL to {host}: the token would cross the network unencrypted, \
                 where anyone on the path can read and reuse it. Use the pulsar+ssl:// URL (port 6651) from the \
                 tenant's Connect tab; pulsar:// is accepted only to this machine (localhost, 127.0.0.1, ::1).",
                var.name
            );
        }
        // Without a port the crate would dial 6650 (its plaintext default) even for pulsar+ssl://.
        if url.port().is_none() {
            let port = if tls { 6651 } else { 6650 };
            url.set_port(Some(port))
                .map_err(|()| settings::SettingError::Malformed {
                    var,
                    reason: "cannot carry a port".into(),
                })?;
        }
        let url = url.as_str().trim_end_matches('/').to_owned();

        let ca = match settings::optional_file(settings::ASTRA_STREAMING_CA_PATH)? {
            None => None,
            Some(path) => {
                let pem = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                    return Err(settings::SettingError::Malformed {
                        var: settings::ASTRA_STREAMING_CA_PATH,
                        reason: format!("{} holds no PEM certificate", path.display()),
                    }
                    .into());
                }
                Some((path, pem))
            }
        };
        Ok(Self {
            url,
            token,
            topic: topic_name()?,
            ca,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `persistent://{tenant}/{namespace}/{topic}`: persistent topics keep messages on disk until
/// every subscription has acknowledged them. A full name in `ASTRA_STREAMING_TOPIC` is used as is.
fn topic_name() -> anyhow::Result<String> {
    let topic = settings::required(settings::ASTRA_STREAMING_TOPIC)?;
    if topic.starts_with("persistent://") || topic.starts_with("non-persistent://") {
        return Ok(topic);
    }
    let mut parts = Vec::new();
    for var in [
        settings::ASTRA_STREAMING_TENANT,
        settings::ASTRA_STREAMING_NAMESPACE,
        settings::ASTRA_STREAMING_TOPIC,
    ] {
        let value = settings::required(var)?;
        let valid = value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.=:".contains(c));
        if !valid {
            let reason = "a Pulsar name has only letters, digits and - _ . = :".into();
            return Err(settings::SettingError::Malformed { var, reason }.into());
        }
        parts.push(value);
    }
    Ok(format!("persistent://{}", parts.join("/")))
}

/// Connects to the broker with the token. Astra's certificates chain to public roots, which the
/// crate trusts; the local stack's CA is added when `ASTRA_STREAMING_CA_PATH` is set. The crate
/// always verifies the certificate and its host name on this (rustls) path.
async fn connect(streaming: &Streaming) -> anyhow::Result<Pulsar<TokioExecutor>> {
    let auth = Authentication {
        name: "token".into(),
        data: streaming.token.expose().as_bytes().to_vec(),
    };
    let mut builder = Pulsar::builder(&streaming.url, TokioExecutor)
        .with_auth(auth)
        // The defaults retry a refused connection 12 times over about 40 s. Fail within seconds
        // instead; a long-running service may want more retries (they also apply to reconnects).
        .with_connection_retry_options(ConnectionRetryOptions {
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            max_retries: 2,
            connection_timeout: Duration::from_secs(3),
            ..Default::default()
        })
        // By default an operation is retried forever while the broker says "not ready".
        .with_operation_retry_options(OperationRetryOptions {
            operation_timeout: Duration::from_secs(10),
            retry_delay: Duration::from_millis(500),
            max_retries: Some(5),
        });
    if let Some((_, pem)) = &streaming.ca {
        builder = builder.with_certificate_chain(pem.clone());
    }

    pulsar_log::clear();
    let started = Instant::now();
    let pulsar = match timeout(CONNECT_TIMEOUT, builder.build()).await {
        Ok(Ok(pulsar)) => pulsar,
        Ok(Err(error)) => return Err(explain_connect_error(&error, streaming)),
        Err(_) => bail!(
            "cannot connect to {}: no answer within {CONNECT_TIMEOUT:?}: check the host and port in \
             ASTRA_STREAMING_SERVICE_URL, that your network lets port 6651 through, and that the broker is running",
            streaming.url
        ),
    };
    println!(
        "Connected to {} in {} ms (TLS: {}, token authentication).",
        streaming.url,
        started.elapsed().as_millis(),
        if streaming.url.starts_with("pulsar+ssl:") {
            "yes"
        } else {
            "no, loopback only"
        }
    );
    Ok(pulsar)
}

/// Turns a failed connection into one line that says what to fix. The crate's error is generic
/// for authentication and TLS failures; the cause is in its log (see `pulsar_log`).
fn explain_connect_error(error: &pulsar::Error, streaming: &Streaming) -> anyhow::Error {
    let cause = pulsar_log::last_connection_error().unwrap_or_default();
    let evidence = format!("{error:?} {cause}");
    let hint = if evidence.contains("AuthenticationError") || evidence.contains("Failed to authenticate") {
        "authentication failed: the broker rejected ASTRA_STREAMING_TOKEN (wrong, expired, revoked, or from \
         another tenant or cluster). Create a token on the tenant's Settings tab in the Astra Portal, or run \
         `scripts/astra-local env` for the local stack"
            .to_owned()
    } else if evidence.contains("UnknownIssuer") || evidence.contains("BadSignature") {
        match &streaming.ca {
            Some((path, _)) => format!(
                "the broker's TLS certificate is not signed by the CA in ASTRA_STREAMING_CA_PATH ({}): use the CA \
                 of this broker (`scripts/astra-local env` for the local stack), or leave the variable empty for \
                 Astra",
                path.display()
            ),
            None => "the broker's TLS certificate is not signed by a public CA: Astra's is, so this is not an Astra \
                     URL; for the local stack set ASTRA_STREAMING_CA_PATH (`scripts/astra-local env`)"
                .to_owned(),
        }
    } else if evidence.contains("NotValidForName") {
        "the broker's TLS certificate is not issued for the host in ASTRA_STREAMING_SERVICE_URL: copy the URL \
         exactly from the tenant's Connect tab (local stack: localhost or 127.0.0.1)"
            .to_owned()
    } else if evidence.contains("CertExpired") || evidence.contains("CertNotValidYet") {
        "the broker's TLS certificate has expired or is not valid yet: check this machine's clock".to_owned()
    } else if evidence.contains("tls handshake eof") || evidence.contains("Disconnected") {
        "the server closed the connection during the handshake: is the port right? pulsar+ssl:// needs the \
         broker's TLS port (6651), pulsar:// its plaintext port (6650)"
            .to_owned()
    } else if evidence.contains("ConnectionRefused") || evidence.contains("Connection refused") {
        "nothing is listening there: check the host and port in ASTRA_STREAMING_SERVICE_URL, and that the \
         broker (or `scripts/astra-local up`) is running"
            .to_owned()
    } else if evidence.contains("TimedOut") || evidence.contains("timeout") {
        "no answer within the connection timeout: check the host and port in ASTRA_STREAMING_SERVICE_URL, that \
         your network lets port 6651 through, and that the broker is running"
            .to_owned()
    } else if evidence.contains("NotFound") || evidence.contains("could not look up") {
        "cannot resolve the host in ASTRA_STREAMING_SERVICE_URL: check its spelling".to_owned()
    } else {
        "the connection failed".to_owned()
    };
    let mut detail = error.to_string();
    if !cause.is_empty() {
        detail.push_str(&format!("; cause: {cause}"));
    }
    // The crate's messages do not contain the token; make sure it stays that way.
    let detail = detail.replace(streaming.token.expose(), "<token>");
    anyhow::anyhow!("cannot connect to {}: {hint} ({detail})", streaming.url)
}

/// Errors on a topic (creating a producer or consumer, sending) with what to do about them.
fn explain_topic_error(error: pulsar::Error, action: &str, topic: &str) -> anyhow::Error {
    let evidence = format!("{error:?}");
    let hint = if evidence.contains("AuthorizationError") || evidence.contains("not authorized") {
        "the token is valid, but its role may not do this on the topic's namespace: use a token of this tenant \
         (Astra Portal → tenant → Settings), or grant the role produce and consume on the namespace"
    } else if evidence.contains("TopicNotFound") || evidence.contains("Topic not found") {
        "the topic does not exist and the namespace does not create topics automatically: create it (Astra \
         Portal → Namespace and Topics, or sample-pulsar-admin)"
    } else if evidence.contains("ConsumerBusy") || evidence.contains("already connected") {
        "another consumer is already attached to this subscription, which is Exclusive: stop it, or choose \
         another name with --subscription"
    } else if evidence.contains("TimedOut") || evidence.contains("timed out") {
        "the broker did not answer in time"
    } else {
        "the broker refused"
    };
    anyhow::anyhow!("cannot {action} {topic}: {hint} ({error})")
}

/// Creates a consumer on a named subscription. The subscription type decides how its consumers
/// share the messages: `Exclusive` (one consumer; a second one is refused), `Failover` (one
/// active, others stand by), `Shared` (round robin, no order) or `KeyShared` (by key, in order
/// per key). It starts from the latest message when it is new; an existing subscription
/// resumes where its consumers last acknowledged.
async fn subscribe(
    pulsar: &Pulsar<TokioExecutor>,
    topic: &str,
    subscription: &str,
    sub_type: SubType,
) -> anyhow::Result<Consumer<String, TokioExecutor>> {
    let consumer = pulsar
        .consumer()
        .with_topic(topic)
        .with_subscription(subscription)
        .with_subscription_type(sub_type)
        .with_consumer_name("sample-pulsar-producer")
        .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Latest));
    let consumer = timeout(OPERATION_TIMEOUT, consumer.build())
        .await
        .map_err(|_| anyhow::anyhow!("cannot subscribe to {topic}: no answer within {OPERATION_TIMEOUT:?}"))?
        .map_err(|e| explain_topic_error(e, "subscribe to", topic))?;
    println!("Subscribed to {topic} as {subscription:?} ({sub_type:?}).");
    Ok(consumer)
}

/// What [`send_messages`] did.
struct Sent {
    count: u32,
    elapsed: Duration,
}

/// Sends `count` messages, each with a key and properties, and waits for every receipt. With
/// batching on, the producer packs messages into one broker frame until the batch is full (100
/// messages or 128 KiB) or 10 ms have passed since its first message.
async fn send_messages(
    pulsar: &Pulsar<TokioExecutor>,
    topic: &str,
    run_id: &str,
    count: u32,
    size: usize,
    ctrl_c: &CtrlC,
) -> anyhow::Result<Sent> {
    let options = ProducerOptions {
        batch_size: Some(100),
        batch_byte_size: Some(128 * 1024),
        batch_timeout: Some(Duration::from_millis(10)),
        // Wait for room when the producer's queue is full, instead of failing the send.
        block_queue_if_full: true,
        ..Default::default()
    };
    // No producer name: the broker makes a unique one. A fixed name would make a second copy of
    // this program fail while the first one runs ("producer with name … is already connected").
    let producer = pulsar.producer().with_topic(topic).with_options(options);
    let mut producer = timeout(OPERATION_TIMEOUT, producer.build())
        .await
        .map_err(|_| anyhow::anyhow!("cannot create a producer on {topic}: no answer within {OPERATION_TIMEOUT:?}"))?
        .map_err(|e| explain_topic_error(e, "produce to", topic))?;

    let started = Instant::now();
    let mut receipts = Vec::with_capacity(count as usize);
    for seq in 1..=count {
        if ctrl_c.is_pressed() {
            let _ = timeout(OPERATION_TIMEOUT, producer.close()).await;
            bail!(
                "interrupted by Ctrl-C while sending ({} of {count} sent)",
                receipts.len()
            );
        }
        // `send_non_blocking` queues the message and returns at once; the receipt (the broker's
        // confirmation that the message is stored) comes later, through the returned future.
        let receipt = producer
            .create_message()
            // The key: all messages with one key go to the same partition, and a KeyShared
            // subscription gives them, in order, to the same consumer.
            .with_key(key_for(seq))
            // Properties: string pairs for the receiver, beside the payload.
            .with_property("run-id", run_id)
            .with_property("seq", seq.to_string())
            .with_content(payload_for(run_id, seq, count, size))
            .send_non_blocking()
            .await
            .map_err(|e| explain_topic_error(e, "send to", topic))?;
        receipts.push(receipt);
    }
    // Send the last, partly filled batch now instead of after its timeout.
    producer
        .send_batch()
        .await
        .map_err(|e| explain_topic_error(e, "send to", topic))?;
    let receipts = timeout(SEND_TIMEOUT, futures::future::try_join_all(receipts))
        .await
        .map_err(|_| anyhow::anyhow!("the broker did not confirm all {count} messages within {SEND_TIMEOUT:?}"))?
        .map_err(|e| explain_topic_error(e, "send to", topic))?;
    let elapsed = started.elapsed();
    // Messages of one batch share a ledger entry (they differ only by their index in the batch).
    let batches: HashSet<(u64, u64)> = receipts
        .iter()
        .filter_map(|r| r.message_id.as_ref())
        .map(|id| (id.ledger_id, id.entry_id))
        .collect();
    let _ = timeout(OPERATION_TIMEOUT, producer.close()).await;
    println!(
        "Sent {count} messages (run {run_id}) in {} batch(es) in {:.1} ms.",
        batches.len(),
        elapsed.as_secs_f64() * 1000.0
    );
    Ok(Sent { count, elapsed })
}

fn key_for(seq: u32) -> String {
    format!("device-{}", seq % 3)
}

/// The message's text, padded with dots to `size` bytes when it is shorter.
fn payload_for(run_id: &str, seq: u32, count: u32, size: usize) -> String {
    let text = format!("message {seq} of {count} from run {run_id}");
    let padding = size.saturating_sub(text.len());
    text + &".".repeat(padding)
}

/// What [`receive_and_acknowledge`] did.
struct Received {
    /// Messages of this run received (duplicates included).
    ours: u64,
    acknowledged: u64,
    elapsed: Duration,
    tally: Tally,
}

/// Reads the run's messages back through the subscription and acknowledges each one: an
/// acknowledged message is never delivered to this subscription again. Messages of other runs
/// (other copies of this program on the same topic) are acknowledged and counted apart.
async fn receive_and_acknowledge(
    consumer: &mut Consumer<String, TokioExecutor>,
    run_id: &str,
    count: u32,
    size: usize,
    mut ctrl_c: CtrlC,
) -> anyhow::Result<Received> {
    let started = Instant::now();
    // Other runs' messages could keep the loop going: bound it in time as well.
    let deadline = started + Duration::from_secs(30) + Duration::from_millis(10) * count;
    let mut tally = Tally::new(run_id, count, size);
    let mut ours = 0;
    let mut acknowledged = 0;
    while !tally.complete() {
        let wait = RECEIVE_TIMEOUT.min(deadline.saturating_duration_since(Instant::now()));
        let next = tokio::select! {
            biased;
            () = ctrl_c.pressed() => bail!("interrupted by Ctrl-C while receiving ({} of {count} received)", tally.distinct()),
            next = timeout(wait, consumer.try_next()) => next,
        };
        let message = match next {
            Ok(Ok(Some(message))) => message,
            Ok(Ok(None)) => bail!(
                "the broker closed the subscription after {} of {count} messages",
                tally.distinct()
            ),
            Ok(Err(error)) => return Err(anyhow::Error::new(error).context("cannot receive")),
            Err(_) => bail!(
                "received {} of {count} messages, then nothing for {:.0} s",
                tally.distinct(),
                wait.as_secs_f64()
            ),
        };
        let seq = tally.record(&message);
        consumer.ack(&message).await.context("cannot acknowledge a message")?;
        acknowledged += 1;
        if let Some(seq) = seq {
            ours += 1;
            if ours <= SHOWN_MESSAGES as u64 {
                println!("  received #{seq}: {}", describe(&message));
            }
        }
    }
    let elapsed = started.elapsed();
    if ours > SHOWN_MESSAGES as u64 {
        println!("  … and {} more", ours - SHOWN_MESSAGES as u64);
    }
    let others = match tally.foreign {
        0 => String::new(),
        n => format!(" (and {n} of other runs)"),
    };
    println!(
        "Received and acknowledged {ours} messages{others} in {:.1} ms.",
        elapsed.as_secs_f64() * 1000.0
    );
    Ok(Received {
        ours,
        acknowledged,
        elapsed,
        tally,
    })
}

/// Which of the run's messages came back, how often, and whether each was intact.
struct Tally {
    run_id: String,
    expected: u32,
    /// The payload size the run sent (see `payload_for`).
    size: usize,
    /// How often each sequence number came back.
    seen: BTreeMap<u32, u32>,
    /// How many of 1..=expected came back at least once.
    distinct: usize,
    damaged: Vec<String>,
    foreign: u64,
}

impl Tally {
    fn new(run_id: &str, expected: u32, size: usize) -> Self {
        Self {
            run_id: run_id.to_owned(),
            expected,
            size,
            seen: BTreeMap::new(),
            distinct: 0,
            damaged: Vec::new(),
            foreign: 0,
        }
    }

    /// Records a message; its sequence number when it belongs to this run.
    fn record(&mut self, message: &Message<String>) -> Option<u32> {
        let properties = properties(message);
        if properties.get("run-id").map(String::as_str) != Some(self.run_id.as_str()) {
            self.foreign += 1;
            return None;
        }
        let Some(seq) = properties.get("seq").and_then(|s| s.parse::<u32>().ok()) else {
            self.damaged.push("a message without a valid seq property".into());
            return None;
        };
        self.note(seq);
        if message.deserialize().ok() != Some(payload_for(&self.run_id, seq, self.expected, self.size)) {
            self.damaged.push(format!("#{seq} has another payload"));
        }
        if message.key() != Some(key_for(seq)) {
            self.damaged.push(format!("#{seq} has another key"));
        }
        Some(seq)
    }

    fn note(&mut self, seq: u32) {
        let times = self.seen.entry(seq).or_default();
        *times += 1;
        if *times == 1 && (1..=self.expected).contains(&seq) {
            self.distinct += 1;
        }
    }

    fn distinct(&self) -> usize {
        self.distinct
    }

    fn complete(&self) -> bool {
        self.distinct() == self.expected as usize
    }
}

/// Every message sent came back once, with its payload, key and properties.
fn check_exactly_once(tally: &Tally) -> anyhow::Result<()> {
    let missing: Vec<u32> = (1..=tally.expected)
        .filter(|seq| !tally.seen.contains_key(seq))
        .collect();
    let repeated: Vec<u32> = tally
        .seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(seq, _)| *seq)
        .collect();
    let unknown: Vec<u32> = tally
        .seen
        .keys()
        .copied()
        .filter(|seq| !(1..=tally.expected).contains(seq))
        .collect();
    if missing.is_empty() && repeated.is_empty() && unknown.is_empty() && tally.damaged.is_empty() {
        println!(
            "Checked: each of the {} messages came back exactly once, with its key and properties.",
            tally.expected
        );
        return Ok(());
    }
    bail!(
        "the messages did not come back exactly once: missing {missing:?}, repeated {repeated:?}, \
         unexpected {unknown:?}, damaged {:?}",
        tally.damaged
    )
}

/// Takes (and drops, unacknowledged) the messages waiting in the consumer's receive queue, for at
/// most [`DRAIN_LIMIT`]. The crate's consumer hands `close` and `unsubscribe` to an engine that
/// also fills that queue; while the queue is full, the engine waits for the program to take a
/// message, and `close` and `unsubscribe` wait with it. That happens after an interruption, when
/// the program stopped reading. Dropped messages are not lost: unacknowledged, they are delivered
/// to the subscription again (or deleted with it).
async fn drain(consumer: &mut Consumer<String, TokioExecutor>) {
    let deadline = Instant::now() + DRAIN_LIMIT;
    let mut dropped = 0u64;
    while Instant::now() < deadline {
        match timeout(Duration::from_millis(100), consumer.try_next()).await {
            Ok(Ok(Some(_))) => dropped += 1,
            _ => break,
        }
    }
    tracing::debug!(dropped, "drained the receive queue");
}

/// Deletes the run's subscription, so that the broker stops keeping messages for it.
async fn remove_subscription(consumer: &mut Consumer<String, TokioExecutor>, subscription: &str) {
    match timeout(OPERATION_TIMEOUT, consumer.unsubscribe()).await {
        Ok(Ok(())) => println!("Removed subscription {subscription:?}."),
        Ok(Err(error)) => tracing::warn!(%error, "could not remove subscription {subscription:?}"),
        Err(_) => tracing::warn!("could not remove subscription {subscription:?} within {OPERATION_TIMEOUT:?}"),
    }
}

/// `--consume`: prints and acknowledges every message arriving on the subscription, until
/// Ctrl-C or the time limit. The subscription is durable: it stays on the topic and keeps the
/// messages published while no consumer is attached, for the next run.
async fn watch_topic(
    pulsar: &Pulsar<TokioExecutor>,
    topic: &str,
    subscription: &str,
    limit: Option<Duration>,
    mut ctrl_c: CtrlC,
) -> anyhow::Result<()> {
    let mut consumer = subscribe(pulsar, topic, subscription, SubType::Exclusive).await?;
    let started = Instant::now();
    let until = match limit {
        Some(limit) => format!("for {} s or until Ctrl-C", limit.as_secs()),
        None => "until Ctrl-C".to_owned(),
    };
    println!("Watching {topic} {until}.");
    let (mut received, mut acknowledged) = (0u64, 0u64);
    // Bounded by the time limit, or by the user (Ctrl-C) when there is none.
    let stopped_by = loop {
        let left = limit.map(|limit| limit.saturating_sub(started.elapsed()));
        if left == Some(Duration::ZERO) {
            break "the time limit";
        }
        // Wake up at least every second, so that the time limit is kept without a message.
        let wait = left.unwrap_or(Duration::MAX).min(Duration::from_secs(1));
        let next = tokio::select! {
            biased;
            () = ctrl_c.pressed() => break "Ctrl-C",
            next = timeout(wait, consumer.try_next()) => next,
        };
        match next {
            Err(_) => continue,
            Ok(Ok(Some(message))) => {
                received += 1;
                println!("  {}", describe(&message));
                consumer.ack(&message).await.context("cannot acknowledge a message")?;
                acknowledged += 1;
            }
            // The crate ends the stream when its consumer stops for good: mostly because the
            // connection broke (the broker restarted or went away) and reconnecting failed.
            Ok(Ok(None)) => match pulsar_log::last_connection_error() {
                Some(cause) => bail!(
                    "lost the connection to the broker after {received} messages and could not reconnect \
                     ({cause}); the messages not yet received wait on subscription {subscription:?}: run again \
                     once the broker is back"
                ),
                None => bail!("the broker closed the subscription after {received} messages"),
            },
            Ok(Err(error)) => return Err(anyhow::Error::new(error).context("cannot receive")),
        }
    };
    // Closing detaches the consumer; the acknowledgements queued before reach the broker first.
    drain(&mut consumer).await;
    if timeout(OPERATION_TIMEOUT, consumer.close()).await.is_err() {
        tracing::warn!("the consumer did not close within {OPERATION_TIMEOUT:?}");
    }
    println!(
        "Stopped by {stopped_by}: received {received}, acknowledged {acknowledged} in {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One line for a received message: key, properties, payload.
fn describe(message: &Message<String>) -> String {
    let key = message.key().unwrap_or_else(|| "(none)".into());
    let properties: Vec<String> = properties(message).iter().map(|(k, v)| format!("{k}={v}")).collect();
    let payload = match message.deserialize() {
        Ok(text) if text.len() > 80 => {
            let start: String = text.chars().take(60).collect();
            format!("{start:?}… ({} bytes)", text.len())
        }
        Ok(text) => format!("{text:?}"),
        Err(_) => format!("({} bytes, not UTF-8)", message.payload.data.len()),
    };
    format!("key={key} properties={{{}}} payload={payload}", properties.join(", "))
}

fn properties(message: &Message<String>) -> BTreeMap<String, String> {
    message
        .metadata()
        .properties
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect()
}

fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-6)
}

/// Ctrl-C, as a flag to poll and a future to wait on. A second Ctrl-C quits at once.
#[derive(Clone)]
struct CtrlC(watch::Receiver<bool>);

impl CtrlC {
    fn listen() -> Self {
        let (pressed, receiver) = watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                return; // no signal handling here: `pressed` stays pending
            }
            eprintln!("Ctrl-C: stopping (press it again to quit at once)…");
            let _ = pressed.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
        Self(receiver)
    }

    fn is_pressed(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when Ctrl-C is pressed; never when signals cannot be caught.
    async fn pressed(&mut self) {
        if self.0.wait_for(|pressed| *pressed).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "[::1]"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "pulsar-gcp-useast1.streaming.datastax.com",
            "10.0.0.1",
            "[::2]",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn payloads_are_padded_to_the_size_asked_for() {
        assert_eq!(payload_for("r", 1, 2, 0), "message 1 of 2 from run r");
        let padded = payload_for("r", 1, 2, 1024);
        assert_eq!(padded.len(), 1024);
        assert!(padded.starts_with("message 1 of 2 from run r.."));
    }

    #[test]
    fn exactly_once_names_what_went_wrong() {
        let mut tally = Tally::new("r", 3, 0);
        for seq in [1, 2, 2] {
            tally.note(seq);
        }
        assert!(!tally.complete());
        let message = check_exactly_once(&tally).expect_err("3 is missing").to_string();
        assert!(
            message.contains("missing [3]") && message.contains("repeated [2]"),
            "{message}"
        );
        tally.note(3);
        assert!(tally.complete());
        assert!(check_exactly_once(&tally).is_err(), "#2 is still repeated");
        let mut clean = Tally::new("r", 3, 0);
        for seq in [3, 1, 2] {
            clean.note(seq);
        }
        assert!(clean.complete());
        assert!(check_exactly_once(&clean).is_ok());
    }
}
