//! The bad-input matrix: every sample (a row, described by data in [`SAMPLES`]) against every bad
//! input that applies to it (a column, [`Input`]). Each case runs the sample's binary and checks,
//! with [`crate::run::check_failure`], that it fails with one clear `error:` line naming the cause
//! and the fix, a non-zero exit, no panic and no token, within the case's bound.
//!
//! Most cases need no server: a missing variable fails before any network call, and the network
//! cases point the sample at this machine (a port where nothing listens, a listener that never
//! answers, a local HTTP server answering 503 or 429). Cases that need real credentials to be
//! checked (a wrong token the server must refuse, a certificate from another CA) run against the
//! local stack and are marked [`Case::needs_stack`].

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::run::{self, Expect};

/// A column of the matrix: one kind of bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Each required variable unset (one case per variable).
    MissingVar,
    /// The token variable set to an empty value.
    EmptyToken,
    /// A token with quotes around it, or a space in it (pasting errors).
    MalformedToken,
    /// A well-formed token the server refuses.
    WrongToken,
    /// The base URL with a typo: in its scheme, or in its host name.
    UrlTypo,
    /// A port on this machine where nothing listens.
    PortClosed,
    /// A host that accepts the connection and never answers.
    SilentHost,
    /// The secure connect bundle's path names no file.
    BundleMissing,
    /// The bundle is not a zip file.
    BundleNotZip,
    /// The bundle lacks one of its members (one case per member).
    BundleMember,
    /// The CA that should sign the server's certificate is another one.
    WrongCa,
    /// The server answers 503 to every request.
    Http5xx,
    /// The server answers 429 (with `Retry-After: 1`) to every request.
    Http429,
}

impl Input {
    pub const ALL: [Input; 13] = [
        Input::MissingVar,
        Input::EmptyToken,
        Input::MalformedToken,
        Input::WrongToken,
        Input::UrlTypo,
        Input::PortClosed,
        Input::SilentHost,
        Input::BundleMissing,
        Input::BundleNotZip,
        Input::BundleMember,
        Input::WrongCa,
        Input::Http5xx,
        Input::Http429,
    ];

    /// The column's name in the table.
    pub fn column(self) -> &'static str {
        match self {
            Input::MissingVar => "missing-var",
            Input::EmptyToken => "empty-token",
            Input::MalformedToken => "malformed-token",
            Input::WrongToken => "wrong-token",
            Input::UrlTypo => "url-typo",
            Input::PortClosed => "port-closed",
            Input::SilentHost => "silent-host",
            Input::BundleMissing => "bundle-missing",
            Input::BundleNotZip => "bundle-not-zip",
            Input::BundleMember => "bundle-member",
            Input::WrongCa => "wrong-ca",
            Input::Http5xx => "http-503",
            Input::Http429 => "http-429",
        }
    }
}

/// The value a sample's variable gets in a run that needs no server.
#[derive(Debug, Clone, Copy)]
pub enum Val {
    /// The case's token (a fake one, or the bad one under test).
    Token,
    /// Where the sample connects: a URL, or the path of a bundle naming the host and port.
    Endpoint,
    /// A PEM file with a CA certificate (made up by the test).
    Ca,
    Text(&'static str),
}

/// How a sample is pointed at a server.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint {
    /// A URL in `var`: `local` is its scheme to this machine, `remote` its scheme on Astra.
    /// `http` says whether the sample speaks plain HTTP there (so a test server can answer it).
    Url {
        var: &'static str,
        local: &'static str,
        remote: &'static str,
        http: bool,
    },
    /// The secure connect bundle in `var`; its `config.json` names the metadata service.
    Bundle { var: &'static str },
}

impl Endpoint {
    pub fn var(self) -> &'static str {
        match self {
            Endpoint::Url { var, .. } | Endpoint::Bundle { var } => var,
        }
    }
}

/// What kind of token a sample takes: the fake and wrong tokens are made in that shape.
#[derive(Debug, Clone, Copy)]
pub enum TokenKind {
    /// An Astra application token, `AstraCS:…`.
    Astra,
    /// A Pulsar JWT.
    Jwt,
}

/// Where a wrong token is checked.
#[derive(Debug, Clone, Copy)]
pub enum WrongToken {
    /// Against the local stack, which checks tokens as Astra does; the error line says `says`.
    Stack { says: &'static [&'static str] },
    /// Against a local test server answering 401 as Astra does for a token it does not know (the
    /// local DevOps contract server checks only that a token is present).
    TestServer401 { says: &'static [&'static str] },
}

/// A row of the matrix: one sample binary and what it reads.
#[derive(Debug)]
pub struct Sample {
    /// The row's name (the sample's folder).
    pub name: &'static str,
    /// The binary (`sample-<name>`).
    pub bin: &'static str,
    /// Arguments for every run.
    pub args: &'static [&'static str],
    /// Every variable of a run that needs no server, with its value.
    pub vars: &'static [(&'static str, Val)],
    pub token_var: &'static str,
    pub token_kind: TokenKind,
    /// Variables whose absence is reported before any network call (one case each).
    pub required: &'static [&'static str],
    /// Variables whose absence is only noticed after connecting (checked against the stack).
    pub required_after_connect: &'static [&'static str],
    pub endpoint: Endpoint,
    /// A variable naming a PEM file of extra trusted CAs, if the sample has one.
    pub ca_var: Option<&'static str>,
    /// The stack's variables this sample reads (from `astra-local env`).
    pub stack_vars: &'static [&'static str],
    pub wrong_token: WrongToken,
    /// What the error line says when the server's certificate is signed by another CA.
    pub wrong_ca_says: &'static [&'static str],
    /// What the error line says when the server accepts the connection and never answers.
    pub silent_says: &'static [&'static str],
    /// How long the sample may take to give up on a silent server (its own timeouts, plus margin).
    pub silent_bound: Duration,
}

const TOKEN: &str = "ASTRA_DB_APPLICATION_TOKEN";
const KEYSPACE: &str = "ASTRA_DB_KEYSPACE";
const STREAMING_TOKEN: &str = "ASTRA_STREAMING_TOKEN";
/// HTTP samples: 30 s request timeout (common::http), plus margin.
const HTTP_SILENT_BOUND: Duration = Duration::from_secs(40);
/// "Check the URL …": the fix common::http gives for a server it cannot reach.
const CHECK: &[&str] = &["Check", "check"];

/// Every sample, one row each.
pub static SAMPLES: &[Sample] = &[
    Sample {
        name: "cql",
        bin: "sample-cql",
        args: &[],
        vars: &[
            ("ASTRA_DB_SECURE_BUNDLE_PATH", Val::Endpoint),
            (TOKEN, Val::Token),
            (KEYSPACE, Val::Text("default_keyspace")),
        ],
        token_var: TOKEN,
        token_kind: TokenKind::Astra,
        required: &["ASTRA_DB_SECURE_BUNDLE_PATH", TOKEN],
        required_after_connect: &[KEYSPACE],
        endpoint: Endpoint::Bundle {
            var: "ASTRA_DB_SECURE_BUNDLE_PATH",
        },
        ca_var: None,
        stack_vars: &["ASTRA_DB_SECURE_BUNDLE_PATH", TOKEN, KEYSPACE],
        wrong_token: WrongToken::Stack {
            says: &["authentication failed"],
        },
        wrong_ca_says: &["metadata service", "certificate"],
        silent_says: &["metadata service"],
        // CONNECT_TIMEOUT is 15 s.
        silent_bound: Duration::from_secs(20),
    },
    Sample {
        name: "rest",
        bin: "sample-rest",
        args: &[],
        vars: &[
            ("STARGATE_REST_URL", Val::Endpoint),
            (TOKEN, Val::Token),
            (KEYSPACE, Val::Text("default_keyspace")),
        ],
        token_var: TOKEN,
        token_kind: TokenKind::Astra,
        required: &["STARGATE_REST_URL", TOKEN, KEYSPACE],
        required_after_connect: &[],
        endpoint: Endpoint::Url {
            var: "STARGATE_REST_URL",
            local: "http",
            remote: "https",
            http: true,
        },
        ca_var: None,
        stack_vars: &["STARGATE_REST_URL", TOKEN, KEYSPACE],
        wrong_token: WrongToken::Stack {
            says: &["HTTP 401", "token is missing, wrong or expired"],
        },
        wrong_ca_says: &[],
        silent_says: &["did not answer in time"],
        silent_bound: HTTP_SILENT_BOUND,
    },
    Sample {
        name: "document",
        bin: "sample-document",
        args: &[],
        vars: &[
            ("STARGATE_REST_URL", Val::Endpoint),
            (TOKEN, Val::Token),
            (KEYSPACE, Val::Text("default_keyspace")),
        ],
        token_var: TOKEN,
        token_kind: TokenKind::Astra,
        required: &["STARGATE_REST_URL", TOKEN, KEYSPACE],
        required_after_connect: &[],
        endpoint: Endpoint::Url {
            var: "STARGATE_REST_URL",
            local: "http",
            remote: "https",
            http: true,
        },
        ca_var: None,
        stack_vars: &["STARGATE_REST_URL", TOKEN, KEYSPACE],
        wrong_token: WrongToken::Stack {
            says: &["HTTP 401", "token is missing, wrong or expired"],
        },
        wrong_ca_says: &[],
        silent_says: &["did not answer in time"],
        silent_bound: HTTP_SILENT_BOUND,
    },
    Sample {
        name: "grpc",
        bin: "sample-grpc",
        args: &[],
        vars: &[
            ("STARGATE_GRPC_ENDPOINT", Val::Endpoint),
            (TOKEN, Val::Token),
            (KEYSPACE, Val::Text("default_keyspace")),
        ],
        token_var: TOKEN,
        token_kind: TokenKind::Astra,
        required: &["STARGATE_GRPC_ENDPOINT", TOKEN, KEYSPACE],
        required_after_connect: &[],
        endpoint: Endpoint::Url {
            var: "STARGATE_GRPC_ENDPOINT",
            local: "http",
            remote: "https",
            http: false,
        },
        ca_var: None,
        stack_vars: &["STARGATE_GRPC_ENDPOINT", TOKEN, KEYSPACE],
        wrong_token: WrongToken::Stack {
            says: &["Unauthenticated", "ASTRA_DB_APPLICATION_TOKEN"],
        },
        wrong_ca_says: &[],
        silent_says: &["no answer within"],
        // The first call's deadline (--timeout, 30 s by default), plus margin.
        silent_bound: Duration::from_secs(40),
    },
    Sample {
        name: "pulsar-producer",
        bin: "sample-pulsar-producer",
        args: &[],
        vars: &[
            ("ASTRA_STREAMING_SERVICE_URL", Val::Endpoint),
            (STREAMING_TOKEN, Val::Token),
            ("ASTRA_STREAMING_TENANT", Val::Text("matrix")),
            ("ASTRA_STREAMING_NAMESPACE", Val::Text("default")),
            ("ASTRA_STREAMING_TOPIC", Val::Text("matrix-topic")),
            ("ASTRA_STREAMING_CA_PATH", Val::Ca),
        ],
        token_var: STREAMING_TOKEN,
        token_kind: TokenKind::Jwt,
        required: &[
            "ASTRA_STREAMING_SERVICE_URL",
            STREAMING_TOKEN,
            "ASTRA_STREAMING_TENANT",
            "ASTRA_STREAMING_NAMESPACE",
            "ASTRA_STREAMING_TOPIC",
        ],
        required_after_connect: &[],
        endpoint: Endpoint::Url {
            var: "ASTRA_STREAMING_SERVICE_URL",
            local: "pulsar+ssl",
            remote: "pulsar+ssl",
            http: false,
        },
        ca_var: Some("ASTRA_STREAMING_CA_PATH"),
        stack_vars: &[
            "ASTRA_STREAMING_SERVICE_URL",
            STREAMING_TOKEN,
            "ASTRA_STREAMING_TENANT",
            "ASTRA_STREAMING_NAMESPACE",
            "ASTRA_STREAMING_TOPIC",
            "ASTRA_STREAMING_CA_PATH",
        ],
        wrong_token: WrongToken::Stack {
            says: &["authentication failed: the broker rejected ASTRA_STREAMING_TOKEN"],
        },
        wrong_ca_says: &["is not signed by the CA in ASTRA_STREAMING_CA_PATH"],
        silent_says: &["127.0.0.1", "no answer within"],
        // CONNECT_TIMEOUT is 10 s.
        silent_bound: Duration::from_secs(15),
    },
    Sample {
        name: "pulsar-admin",
        bin: "sample-pulsar-admin",
        args: &[],
        vars: &[
            ("ASTRA_STREAMING_WEB_URL", Val::Endpoint),
            (STREAMING_TOKEN, Val::Token),
            ("ASTRA_STREAMING_TENANT", Val::Text("matrix")),
            ("ASTRA_STREAMING_NAMESPACE", Val::Text("default")),
            ("ASTRA_STREAMING_CA_PATH", Val::Ca),
        ],
        token_var: STREAMING_TOKEN,
        token_kind: TokenKind::Jwt,
        required: &[
            "ASTRA_STREAMING_WEB_URL",
            STREAMING_TOKEN,
            "ASTRA_STREAMING_TENANT",
            "ASTRA_STREAMING_NAMESPACE",
        ],
        required_after_connect: &[],
        endpoint: Endpoint::Url {
            var: "ASTRA_STREAMING_WEB_URL",
            local: "http",
            remote: "https",
            http: true,
        },
        ca_var: Some("ASTRA_STREAMING_CA_PATH"),
        stack_vars: &[
            "ASTRA_STREAMING_WEB_URL",
            STREAMING_TOKEN,
            "ASTRA_STREAMING_TENANT",
            "ASTRA_STREAMING_NAMESPACE",
            "ASTRA_STREAMING_CA_PATH",
        ],
        wrong_token: WrongToken::Stack {
            says: &[
                "authentication failed: the web service rejected ASTRA_STREAMING_TOKEN",
                "HTTP 401",
            ],
        },
        wrong_ca_says: &["not signed by a CA this program trusts"],
        silent_says: &["did not answer in time"],
        silent_bound: HTTP_SILENT_BOUND,
    },
    Sample {
        name: "graphql-cql-first",
        bin: "sample-graphql-cql-first",
        args: &[],
        vars: &[
            ("STARGATE_GRAPHQL_URL", Val::Endpoint),
            (TOKEN, Val::Token),
            (KEYSPACE, Val::Text("default_keyspace")),
        ],
        token_var: TOKEN,
        token_kind: TokenKind::Astra,
        required: &["STARGATE_GRAPHQL_URL", TOKEN, KEYSPACE],
        required_after_connect: &[],
        endpoint: Endpoint::Url {
            var: "STARGATE_GRAPHQL_URL",
            local: "http",
            remote: "https",
            http: true,
        },
        ca_var: None,
        stack_vars: &["STARGATE_GRAPHQL_URL", TOKEN, KEYSPACE],
        wrong_token: WrongToken::Stack {
            says: &["token is missing, wrong or expired"],
        },
        wrong_ca_says: &[],
        silent_says: &["did not answer in time"],
        silent_bound: HTTP_SILENT_BOUND,
    },
    Sample {
        name: "graphql-first",
        bin: "sample-graphql-first",
        args: &[],
        vars: &[("STARGATE_GRAPHQL_URL", Val::Endpoint), (TOKEN, Val::Token)],
        token_var: TOKEN,
        token_kind: TokenKind::Astra,
        required: &["STARGATE_GRAPHQL_URL", TOKEN],
        required_after_connect: &[],
        endpoint: Endpoint::Url {
            var: "STARGATE_GRAPHQL_URL",
            local: "http",
            remote: "https",
            http: true,
        },
        ca_var: None,
        stack_vars: &["STARGATE_GRAPHQL_URL", TOKEN],
        wrong_token: WrongToken::Stack {
            says: &["token is missing, wrong or expired"],
        },
        wrong_ca_says: &[],
        silent_says: &["did not answer in time"],
        silent_bound: HTTP_SILENT_BOUND,
    },
    Sample {
        name: "data-api",
        bin: "sample-data-api",
        args: &[],
        vars: &[
            ("ASTRA_DB_API_ENDPOINT", Val::Endpoint),
            (TOKEN, Val::Token),
            (KEYSPACE, Val::Text("default_keyspace")),
        ],
        token_var: TOKEN,
        token_kind: TokenKind::Astra,
        // The keyspace has a default (default_keyspace).
        required: &["ASTRA_DB_API_ENDPOINT", TOKEN],
        required_after_connect: &[],
        endpoint: Endpoint::Url {
            var: "ASTRA_DB_API_ENDPOINT",
            local: "http",
            remote: "https",
            http: true,
        },
        ca_var: None,
        stack_vars: &["ASTRA_DB_API_ENDPOINT", TOKEN, KEYSPACE],
        wrong_token: WrongToken::Stack {
            says: &["token is missing, wrong or expired"],
        },
        wrong_ca_says: &[],
        silent_says: &["did not answer in time"],
        silent_bound: HTTP_SILENT_BOUND,
    },
    devops("devops-db", "sample-devops-db"),
    devops("devops-org", "sample-devops-org"),
    devops("devops-streaming", "sample-devops-streaming"),
];

/// The rows of the matrix: the samples of [`SAMPLES`] that are workspace members now. A row
/// written ahead for a sample that is not a member yet is named on stderr and not run; a member
/// without a row fails `every_workspace_sample_has_a_row`, and a member that is not built fails
/// its cases.
pub fn rows() -> Vec<&'static Sample> {
    let members = crate::workspace_samples();
    let (rows, ahead): (Vec<&'static Sample>, Vec<&'static Sample>) =
        SAMPLES.iter().partition(|s| members.iter().any(|m| m == s.name));
    for sample in ahead {
        eprintln!(
            "matrix: {} is not a workspace member yet: its row is not run",
            sample.name
        );
    }
    rows
}

/// The DevOps API samples read the same two variables (the URL is optional: Astra's by default).
const fn devops(name: &'static str, bin: &'static str) -> Sample {
    Sample {
        name,
        bin,
        args: &[],
        vars: &[("ASTRA_DEVOPS_URL", Val::Endpoint), (TOKEN, Val::Token)],
        token_var: TOKEN,
        token_kind: TokenKind::Astra,
        required: &[TOKEN],
        required_after_connect: &[],
        endpoint: Endpoint::Url {
            var: "ASTRA_DEVOPS_URL",
            local: "http",
            remote: "https",
            http: true,
        },
        ca_var: None,
        stack_vars: &["ASTRA_DEVOPS_URL", TOKEN],
        wrong_token: WrongToken::TestServer401 {
            says: &["HTTP 401", "token is missing, wrong or expired"],
        },
        wrong_ca_says: &[],
        silent_says: &["did not answer in time"],
        silent_bound: HTTP_SILENT_BOUND,
    }
}

/// Fake tokens: well formed, unknown to every server, and easy to spot in output.
const FAKE_ASTRA_TOKEN: &str =
    "AstraCS:MatrixFakeClientIdQwErTy:9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0";
const FAKE_JWT: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtYXRyaXgtZmFrZSJ9.MatrixFakeSignatureZxCvBnMaSdFgHjKlQwErTyUiOp";

/// Where a case points the sample.
#[derive(Debug, Clone)]
enum Target {
    /// A server at `host:port`: the URL (in the sample's local or remote scheme) or a bundle
    /// naming it.
    Addr { host: String, port: u16, remote: bool },
    /// This exact value for the endpoint variable.
    Raw(String),
}

/// One cell's case: what is varied, and what the run must say.
#[derive(Debug, Clone)]
pub struct Case {
    pub sample: &'static Sample,
    pub input: Input,
    /// What is bad, e.g. "ASTRA_DB_KEYSPACE unset".
    pub label: String,
    pub needs_stack: bool,
    spec: Spec,
}

#[derive(Debug, Clone)]
enum Spec {
    /// A run of the sample's `vars` with these changes.
    Offline {
        target: Target,
        token: String,
        unset: Option<&'static str>,
        bundle: BundleShape,
        expect: Expect,
        bound: Duration,
    },
    /// A run of the stack's variables with these changes.
    Stack {
        set: Vec<(&'static str, StackValue)>,
        unset: Option<&'static str>,
        expect: Expect,
        bound: Duration,
    },
}

/// How the offline bundle is made (cql).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BundleShape {
    Whole,
    Without(&'static str),
    NotZip,
}

#[derive(Debug, Clone)]
enum StackValue {
    /// The stack's token with its signature or secret replaced.
    WrongToken,
    /// A CA certificate file of another CA.
    ForeignCa,
    /// The stack's bundle with `ca.crt` from another CA.
    BundleWithForeignCa,
}

fn texts(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn expect(cause: &[&str], fix: &[&str]) -> Expect {
    Expect {
        cause: texts(cause),
        fix: texts(fix),
    }
}

/// Errors a user can fix from the message alone should come at once (the bound allows for a slow,
/// busy machine).
const LOCAL_BOUND: Duration = Duration::from_secs(5);
/// Connection refused, a failed DNS lookup, a rejected token: one round trip, or a few retries.
const NETWORK_BOUND: Duration = Duration::from_secs(15);

impl Case {
    /// Every case of every sample.
    pub fn all(fx: &Fixtures) -> Vec<Case> {
        rows().into_iter().flat_map(|s| Case::of(s, fx)).collect()
    }

    /// Every case of one sample, in column order.
    pub fn of(sample: &'static Sample, fx: &Fixtures) -> Vec<Case> {
        let mut cases = Vec::new();
        let closed = || Target::Addr {
            host: "127.0.0.1".into(),
            port: fx.closed_port,
            remote: false,
        };
        let offline = |input: Input, label: String, target: Target, expect: Expect, bound: Duration| Case {
            sample,
            input,
            label,
            needs_stack: false,
            spec: Spec::Offline {
                target,
                token: fake_token(sample.token_kind).to_owned(),
                unset: None,
                bundle: BundleShape::Whole,
                expect,
                bound,
            },
        };
        let token_var = sample.token_var;
        let endpoint_var = sample.endpoint.var();

        for var in sample.required {
            let mut case = offline(
                Input::MissingVar,
                format!("{var} unset"),
                closed(),
                expect(&[var], &["Set it", "set "]),
                LOCAL_BOUND,
            );
            if let Spec::Offline { unset, .. } = &mut case.spec {
                *unset = Some(var);
            }
            cases.push(case);
        }
        for var in sample.required_after_connect {
            cases.push(Case {
                sample,
                input: Input::MissingVar,
                label: format!("{var} unset"),
                needs_stack: true,
                spec: Spec::Stack {
                    set: Vec::new(),
                    unset: Some(var),
                    expect: expect(&[var, "not set"], &["Set it", "set "]),
                    bound: NETWORK_BOUND,
                },
            });
        }

        let with_token = |mut case: Case, value: String| {
            if let Spec::Offline { token, .. } = &mut case.spec {
                *token = value;
            }
            case
        };
        cases.push(with_token(
            offline(
                Input::EmptyToken,
                format!("{token_var}=\"\""),
                closed(),
                expect(&[token_var, "not set"], &["Set it", "set ", "Generate token"]),
                LOCAL_BOUND,
            ),
            String::new(),
        ));
        let fake = fake_token(sample.token_kind);
        let (head, tail) = fake.split_at(fake.len() / 2);
        for (label, value) in [
            ("token in quotes", format!("\"{fake}\"")),
            ("space in token", format!("{head} {tail}")),
        ] {
            cases.push(with_token(
                offline(
                    Input::MalformedToken,
                    label.to_owned(),
                    closed(),
                    expect(&[token_var, "malformed"], &["it should be"]),
                    LOCAL_BOUND,
                ),
                value,
            ));
        }

        match sample.wrong_token {
            WrongToken::Stack { says } => cases.push(Case {
                sample,
                input: Input::WrongToken,
                label: "token the server refuses".into(),
                needs_stack: true,
                spec: Spec::Stack {
                    set: vec![(token_var, StackValue::WrongToken)],
                    unset: None,
                    expect: expect(says, &["token", "TOKEN"]),
                    bound: NETWORK_BOUND,
                },
            }),
            WrongToken::TestServer401 { says } => cases.push(offline(
                Input::WrongToken,
                "token the server refuses (test server: 401)".into(),
                fx.addr(fx.unauthorized_port),
                expect(says, &["token"]),
                NETWORK_BOUND,
            )),
        }

        match sample.endpoint {
            Endpoint::Url { local, remote, .. } => {
                let typo = &local[..local.len() - 1];
                cases.push(offline(
                    Input::UrlTypo,
                    format!("scheme typo {typo}://"),
                    Target::Raw(format!("{typo}://127.0.0.1:{}", fx.closed_port)),
                    expect(&[endpoint_var, "malformed"], &["it should be"]),
                    LOCAL_BOUND,
                ));
                cases.push(offline(
                    Input::UrlTypo,
                    "host typo localhots".into(),
                    Target::Raw(format!("{remote}://localhots:{}", fx.closed_port)),
                    expect(&["localhots"], CHECK),
                    NETWORK_BOUND,
                ));
            }
            Endpoint::Bundle { .. } => cases.push(offline(
                Input::UrlTypo,
                "host typo localhots in config.json".into(),
                Target::Addr {
                    host: "localhots".into(),
                    port: fx.closed_port,
                    remote: false,
                },
                expect(&["localhots"], CHECK),
                NETWORK_BOUND,
            )),
        }

        cases.push(offline(
            Input::PortClosed,
            // Labels name no port: they are the case's key in both tests' reports.
            "a port on 127.0.0.1 where nothing listens".to_owned(),
            closed(),
            expect(&[&format!("127.0.0.1:{}", fx.closed_port)], CHECK),
            NETWORK_BOUND,
        ));
        cases.push(offline(
            Input::SilentHost,
            "127.0.0.1: accepts, never answers".to_owned(),
            fx.addr(fx.silent_port),
            expect(sample.silent_says, &["Check", "check", "--timeout"]),
            sample.silent_bound,
        ));

        if let Endpoint::Bundle { var } = sample.endpoint {
            cases.push(offline(
                Input::BundleMissing,
                "no file at the path".into(),
                Target::Raw("/nonexistent/secure-connect-matrix.zip".into()),
                expect(&[var, "no file at"], &["Download"]),
                LOCAL_BOUND,
            ));
            let mut not_zip = offline(
                Input::BundleNotZip,
                "a text file".into(),
                closed(),
                expect(&["is not a zip file"], &["Download"]),
                LOCAL_BOUND,
            );
            if let Spec::Offline { bundle, .. } = &mut not_zip.spec {
                *bundle = BundleShape::NotZip;
            }
            cases.push(not_zip);
            for member in ["config.json", "ca.crt", "cert", "key"] {
                let mut case = offline(
                    Input::BundleMember,
                    format!("no {member}"),
                    closed(),
                    expect(&[&format!("no `{member}` member")], &["Download"]),
                    LOCAL_BOUND,
                );
                if let Spec::Offline { bundle, .. } = &mut case.spec {
                    *bundle = BundleShape::Without(member);
                }
                cases.push(case);
            }
            cases.push(Case {
                sample,
                input: Input::WrongCa,
                label: "ca.crt of another CA".into(),
                needs_stack: true,
                spec: Spec::Stack {
                    set: vec![(var, StackValue::BundleWithForeignCa)],
                    unset: None,
                    expect: expect(sample.wrong_ca_says, &["Download", "Check", "check"]),
                    bound: NETWORK_BOUND,
                },
            });
        }
        if let Some(ca_var) = sample.ca_var {
            cases.push(Case {
                sample,
                input: Input::WrongCa,
                label: format!("{ca_var} of another CA"),
                needs_stack: true,
                spec: Spec::Stack {
                    set: vec![(ca_var, StackValue::ForeignCa)],
                    unset: None,
                    expect: expect(sample.wrong_ca_says, &[ca_var, "CA"]),
                    bound: NETWORK_BOUND,
                },
            });
        }

        if let Endpoint::Url { http: true, .. } = sample.endpoint {
            cases.push(offline(
                Input::Http5xx,
                "every answer 503".into(),
                fx.addr(fx.unavailable_port),
                expect(&["HTTP 503"], &["try again later"]),
                NETWORK_BOUND,
            ));
            cases.push(offline(
                Input::Http429,
                "every answer 429, Retry-After: 1".into(),
                fx.addr(fx.rate_limited_port),
                expect(&["HTTP 429"], &["wait and run again"]),
                NETWORK_BOUND,
            ));
        }
        cases
    }

    /// Runs the case and checks the run.
    pub async fn run(&self, fx: &Fixtures) -> Outcome {
        let sample = self.sample;
        // A sample that is not built fails its cases (loudly, in the table), not the whole run.
        if !run::sample_path(sample.bin).is_file() {
            let problem = format!(
                "{} is not built: run `cargo build --workspace --all-targets` first",
                sample.bin
            );
            return Outcome::failed(self, problem, Duration::ZERO, Duration::ZERO);
        }
        let prepared = match self.prepare(fx) {
            Ok(prepared) => prepared,
            Err(problem) => return Outcome::failed(self, problem, Duration::ZERO, Duration::ZERO),
        };
        let (vars, secrets, expect, bound) = prepared;
        let limit = bound + Duration::from_secs(20);
        let ran = run::run(sample.bin, sample.args, &vars, limit).await;
        let verdict = run::check_failure(&ran, &expect, &secrets, bound);
        let error_line = ran
            .stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_default()
            .to_owned();
        Outcome {
            sample: sample.name,
            input: self.input,
            label: self.label.clone(),
            passed: verdict.is_ok(),
            problem: verdict.err().unwrap_or_default(),
            error_line,
            elapsed: ran.elapsed,
            bound,
        }
    }

    /// The variables of the run, the secrets that must not show, what the run must say, and its bound.
    #[allow(clippy::type_complexity)]
    fn prepare(&self, fx: &Fixtures) -> Result<(Vec<(String, String)>, Vec<String>, Expect, Duration), String> {
        let sample = self.sample;
        match &self.spec {
            Spec::Offline {
                target,
                token,
                unset,
                bundle,
                expect,
                bound,
            } => {
                let mut vars = Vec::new();
                for (name, value) in sample.vars {
                    if Some(*name) == *unset {
                        continue;
                    }
                    let value = match value {
                        Val::Token => token.clone(),
                        Val::Text(text) => (*text).to_owned(),
                        Val::Ca => fx.ca_path.to_string_lossy().into_owned(),
                        Val::Endpoint => fx.endpoint_value(sample.endpoint, target, *bundle)?,
                    };
                    vars.push(((*name).to_owned(), value));
                }
                Ok((vars, secrets_of(token), expect.clone(), *bound))
            }
            Spec::Stack {
                set,
                unset,
                expect,
                bound,
            } => {
                let mut secrets = Vec::new();
                let mut vars = Vec::new();
                for name in sample.stack_vars {
                    let value = stack_env(name);
                    if name.contains("TOKEN") {
                        secrets.extend(secrets_of(&value));
                    }
                    if Some(*name) == *unset {
                        continue;
                    }
                    let value = match set.iter().find(|(n, _)| n == name) {
                        None => value,
                        Some((_, StackValue::WrongToken)) => {
                            let wrong = wrong_token(&value);
                            secrets.extend(secrets_of(&wrong));
                            wrong
                        }
                        Some((_, StackValue::ForeignCa)) => fx.foreign_ca_path.to_string_lossy().into_owned(),
                        Some((_, StackValue::BundleWithForeignCa)) => {
                            let path = fx.dir.path().join(format!("{}-foreign-ca.zip", sample.name));
                            let original = std::fs::read(&value).map_err(|e| format!("cannot read {value}: {e}"))?;
                            let altered = replace_member(&original, "ca.crt", fx.foreign_ca_pem.as_bytes())?;
                            std::fs::write(&path, altered).map_err(|e| e.to_string())?;
                            path.to_string_lossy().into_owned()
                        }
                    };
                    vars.push(((*name).to_owned(), value));
                }
                Ok((vars, secrets, expect.clone(), *bound))
            }
        }
    }
}

fn fake_token(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Astra => FAKE_ASTRA_TOKEN,
        TokenKind::Jwt => FAKE_JWT,
    }
}

/// The token, and its secret part on its own (a message could quote it without its prefix).
fn secrets_of(token: &str) -> Vec<String> {
    let mut out = vec![token.to_owned()];
    if let Some(rest) = token.strip_prefix("AstraCS:") {
        out.push(rest.to_owned());
    }
    if let Some((_, signature)) = token.rsplit_once('.') {
        out.push(signature.to_owned());
    }
    out.retain(|s| s.len() >= 8);
    out
}

/// A token of the same shape the server does not accept: a JWT with another signature, or an
/// Astra token with another secret.
fn wrong_token(token: &str) -> String {
    match token.rsplit_once('.') {
        Some((signed, _)) if token.starts_with("eyJ") => format!("{signed}.{}", "WrongSignatureMatrix".repeat(2)),
        _ => format!("AstraCS:MatrixWrongClientIdZzZz:{}", "0a1b2c3d".repeat(8)),
    }
}

/// A variable of the local stack's settings (`eval "$(astra-local env)"`).
pub fn stack_env(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{name} is not set: needs the local stack: run scripts/test or scripts/reliability"))
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub sample: &'static str,
    pub input: Input,
    pub label: String,
    pub passed: bool,
    /// Why it failed (empty when it passed).
    pub problem: String,
    /// The run's `error:` line, for the report.
    pub error_line: String,
    pub elapsed: Duration,
    pub bound: Duration,
}

impl Outcome {
    fn failed(case: &Case, problem: String, elapsed: Duration, bound: Duration) -> Self {
        Outcome {
            sample: case.sample.name,
            input: case.input,
            label: case.label.clone(),
            passed: false,
            problem,
            error_line: String::new(),
            elapsed,
            bound,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "sample": self.sample,
            "input": self.input.column(),
            "case": self.label,
            "status": if self.passed { "pass" } else { "fail" },
            "problem": self.problem,
            "error_line": self.error_line,
            "elapsed_ms": self.elapsed.as_millis() as u64,
            "bound_ms": self.bound.as_millis() as u64,
        })
    }
}

/// Runs `cases` at most `parallel` at a time (most of a case is waiting on a child process).
pub async fn run_all(cases: Vec<Case>, fx: Arc<Fixtures>, parallel: usize) -> Vec<Outcome> {
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut tasks = Vec::new();
    for case in cases {
        let permits = permits.clone();
        let fx = fx.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            case.run(&fx).await
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("a case's task"));
    }
    outcomes
}

/// Writes the outcomes as JSON to `$RELIABILITY_DIR/<name>.json` when `RELIABILITY_DIR` is set
/// (scripts/reliability sets it), with the matrix's rows and columns.
/// `not_run` are the matrix's other cases (run by the other test), listed as "not run".
pub fn write_report(name: &str, outcomes: &[Outcome], not_run: &[Case], elapsed: Duration) -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("RELIABILITY_DIR")?);
    std::fs::create_dir_all(&dir).expect("create RELIABILITY_DIR");
    let mut cases: Vec<serde_json::Value> = outcomes.iter().map(Outcome::to_json).collect();
    cases.extend(not_run.iter().map(|c| {
        serde_json::json!({
            "sample": c.sample.name,
            "input": c.input.column(),
            "case": c.label,
            "status": "not run",
            "needs_stack": c.needs_stack,
        })
    }));
    let report = serde_json::json!({
        "run": name,
        "samples": rows().iter().map(|s| s.name).collect::<Vec<_>>(),
        "inputs": Input::ALL.iter().map(|i| i.column()).collect::<Vec<_>>(),
        "elapsed_ms": elapsed.as_millis() as u64,
        "cases": cases,
    });
    let path = dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(&report).expect("JSON");
    std::fs::write(&path, text).expect("write the report");
    Some(path)
}

/// A summary of failed outcomes, one per line, for a test's panic message.
pub fn failures(outcomes: &[Outcome]) -> String {
    outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| format!("{} / {} / {}: {}", o.sample, o.input.column(), o.label, o.problem))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// Fixtures: the servers and files the cases point samples at

/// What the cases share: ports on this machine, test servers, made-up certificates and bundles.
pub struct Fixtures {
    /// A port where nothing listens.
    pub closed_port: u16,
    /// A listener that accepts connections and never writes a byte.
    pub silent_port: u16,
    /// HTTP servers answering every request with 503, 429 and 401.
    pub unavailable_port: u16,
    pub rate_limited_port: u16,
    pub unauthorized_port: u16,
    /// A CA certificate (PEM file) that signs nothing any server uses.
    pub ca_path: PathBuf,
    /// Another CA, for the wrong-CA cases against the stack.
    pub foreign_ca_path: PathBuf,
    foreign_ca_pem: String,
    /// A client certificate and key issued by `ca_path`'s CA (for made-up bundles).
    client_cert_pem: String,
    client_key_pem: String,
    ca_pem: String,
    dir: tempfile::TempDir,
    files: std::sync::atomic::AtomicUsize,
    _servers: Vec<wiremock::MockServer>,
}

impl Fixtures {
    /// Starts the listeners and servers (on the current tokio runtime) and makes the files.
    pub async fn start() -> Fixtures {
        let closed_port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("address").port()
        };
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let silent_port = silent.local_addr().expect("address").port();
        tokio::spawn(async move {
            // Keep every connection open and say nothing, until the runtime ends.
            let mut held = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                held.push(socket);
            }
        });

        let unavailable = answering(
            wiremock::ResponseTemplate::new(503)
                .set_body_json(serde_json::json!({"description": "Service Unavailable (matrix test server)"})),
        )
        .await;
        let rate_limited = answering(
            wiremock::ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(serde_json::json!({"description": "Too many requests (matrix test server)"})),
        )
        .await;
        // Astra's DevOps API answers an unknown token like this.
        let unauthorized = answering(wiremock::ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "errors": [{"description": "The token is not valid or has expired", "ID": 401}]
        })))
        .await;

        let (ca, issuer) = new_ca();
        let client_key = rcgen::KeyPair::generate().expect("key");
        let client_cert = rcgen::CertificateParams::new(vec!["matrix-client".to_owned()])
            .expect("params")
            .signed_by(&client_key, &issuer)
            .expect("client certificate");
        let (foreign, _) = new_ca();

        let dir = tempfile::tempdir().expect("temp dir");
        let ca_path = dir.path().join("matrix-ca.crt");
        std::fs::write(&ca_path, ca.pem()).expect("write CA");
        let foreign_ca_path = dir.path().join("foreign-ca.crt");
        std::fs::write(&foreign_ca_path, foreign.pem()).expect("write CA");

        let port = |s: &wiremock::MockServer| s.address().port();
        Fixtures {
            closed_port,
            silent_port,
            unavailable_port: port(&unavailable),
            rate_limited_port: port(&rate_limited),
            unauthorized_port: port(&unauthorized),
            ca_path,
            foreign_ca_path,
            foreign_ca_pem: foreign.pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            ca_pem: ca.pem(),
            dir,
            files: std::sync::atomic::AtomicUsize::new(0),
            _servers: vec![unavailable, rate_limited, unauthorized],
        }
    }

    fn addr(&self, port: u16) -> Target {
        Target::Addr {
            host: "127.0.0.1".into(),
            port,
            remote: false,
        }
    }

    /// The endpoint variable's value for `target`: a URL, or the path of a bundle naming it.
    fn endpoint_value(&self, endpoint: Endpoint, target: &Target, shape: BundleShape) -> Result<String, String> {
        match (endpoint, target) {
            (_, Target::Raw(value)) => Ok(value.clone()),
            (Endpoint::Url { local, remote, .. }, Target::Addr { host, port, remote: r }) => {
                Ok(format!("{}://{host}:{port}", if *r { remote } else { local }))
            }
            (Endpoint::Bundle { .. }, Target::Addr { host, port, .. }) => self
                .bundle(host, *port, shape)
                .map(|p| p.to_string_lossy().into_owned()),
        }
    }

    /// A secure connect bundle made up for the test: its own CA and client certificate, and a
    /// `config.json` naming `host:port`.
    fn bundle(&self, host: &str, port: u16, shape: BundleShape) -> Result<PathBuf, String> {
        // A file of its own for each run: cases run at the same time.
        let serial = self.files.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!(
            "scb-{serial}-{host}-{port}-{}.zip",
            match shape {
                BundleShape::Whole => "whole".to_owned(),
                BundleShape::Without(member) => format!("without-{member}"),
                BundleShape::NotZip => "not-zip".to_owned(),
            }
        );
        let path = self.dir.path().join(name);
        if shape == BundleShape::NotZip {
            std::fs::write(&path, "this is a text file, not the secure connect bundle\n").map_err(|e| e.to_string())?;
            return Ok(path);
        }
        let config = serde_json::json!({"host": host, "port": port, "keyspace": "default_keyspace"}).to_string();
        let members = [
            ("config.json", config.as_bytes()),
            ("ca.crt", self.ca_pem.as_bytes()),
            ("cert", self.client_cert_pem.as_bytes()),
            ("key", self.client_key_pem.as_bytes()),
        ];
        let file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
        let mut zip = zip::ZipWriter::new(file);
        for (member, body) in members {
            if shape == BundleShape::Without(member) {
                continue;
            }
            zip.start_file(member, zip::write::SimpleFileOptions::default())
                .map_err(|e| e.to_string())?;
            zip.write_all(body).map_err(|e| e.to_string())?;
        }
        zip.finish().map_err(|e| e.to_string())?;
        Ok(path)
    }
}

/// An HTTP server on 127.0.0.1 that answers every request with `template`.
async fn answering(template: wiremock::ResponseTemplate) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

fn new_ca() -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "astra-rust-samples matrix CA");
    let cert = params.self_signed(&key).expect("CA certificate");
    (cert, rcgen::Issuer::new(params, key))
}

/// `zip_bytes` with member `name` replaced by `body`.
fn replace_member(zip_bytes: &[u8], name: &str, body: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).map_err(|e| e.to_string())?;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| e.to_string())?;
        let member = file.name().map_err(|e| e.to_string())?.into_owned();
        let mut content = Vec::new();
        file.read_to_end(&mut content).map_err(|e| e.to_string())?;
        out.start_file(member.as_str(), zip::write::SimpleFileOptions::default())
            .map_err(|e| e.to_string())?;
        out.write_all(if member == name { body } else { &content })
            .map_err(|e| e.to_string())?;
    }
    Ok(out.finish().map_err(|e| e.to_string())?.into_inner())
}
