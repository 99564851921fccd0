//! Settings come from the environment, or from a `.env` file in the working directory or one of
//! its parents (see `.env.example` at the top of the repository). Each variable is described by a
//! [`Var`]: its name, what it is for, and where to get a value, so that a missing or malformed
//! variable produces an error a user can act on.

use std::path::PathBuf;

use crate::Token;

/// One setting: its name and the help shown when it is missing or malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    pub name: &'static str,
    /// What the value is, e.g. "the Astra application token (AstraCS:…)".
    pub what: &'static str,
    /// Where to get one, e.g. "Astra Portal → Settings → Tokens → Generate token".
    pub how: &'static str,
}

/// A setting that is missing or unusable. The message names the variable and how to fix it, and
/// never contains the value itself (it may be a secret).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingError {
    #[error("{} is not set: it is {}. {} Set it in the environment or in .env (see .env.example).", .0.name, .0.what, .0.how)]
    Missing(Var),
    #[error("{} is malformed ({reason}): it should be {}. {}", var.name, var.what, var.how)]
    Malformed { var: Var, reason: String },
    #[error("could not read .env: {0}. Fix the line it names, or remove the file.")]
    DotEnv(String),
}

/// Loads `.env` (from the working directory or a parent) into the environment, without
/// overriding variables that are already set. A missing `.env` is fine; a broken one is an error.
pub fn load_dotenv() -> Result<(), SettingError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(SettingError::DotEnv(e.to_string())),
    }
}

/// The value of `var`, or `None` when it is unset or empty (an empty line in `.env` means unset).
pub fn optional(var: Var) -> Result<Option<String>, SettingError> {
    match std::env::var(var.name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(SettingError::Malformed {
            var,
            reason: "not valid UTF-8".into(),
        }),
    }
}

/// The value of `var`; an error naming the variable when it is unset or empty.
pub fn required(var: Var) -> Result<String, SettingError> {
    optional(var)?.ok_or(SettingError::Missing(var))
}

/// A secret (token or password). Rejects values with spaces or quotes: a sign of a pasting error.
pub fn token(var: Var) -> Result<Token, SettingError> {
    optional_token(var)?.ok_or(SettingError::Missing(var))
}

/// Like [`token`], for a secret that may be absent.
pub fn optional_token(var: Var) -> Result<Option<Token>, SettingError> {
    let Some(value) = optional(var)? else {
        return Ok(None);
    };
    if let Some(bad) = value
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '"' || *c == '\'')
    {
        let reason = match bad {
            '"' | '\'' => "it contains a quote".to_owned(),
            _ => "it contains a space or a control character".to_owned(),
        };
        return Err(SettingError::Malformed { var, reason });
    }
    Ok(Some(Token::new(value)))
}

/// An absolute `http://`/`https://` (or, for `schemes`, other) URL.
pub fn url(var: Var, schemes: &[&str]) -> Result<reqwest::Url, SettingError> {
    optional_url(var, schemes)?.ok_or(SettingError::Missing(var))
}

/// Like [`url`], for a URL that may be absent.
pub fn optional_url(var: Var, schemes: &[&str]) -> Result<Option<reqwest::Url>, SettingError> {
    let Some(value) = optional(var)? else {
        return Ok(None);
    };
    let parsed = reqwest::Url::parse(&value).map_err(|e| SettingError::Malformed {
        var,
        reason: format!("not a URL: {e}"),
    })?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(SettingError::Malformed {
            var,
            reason: format!("scheme {}:// is not one of {}", parsed.scheme(), schemes.join(", ")),
        });
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(SettingError::Malformed {
            var,
            reason: "the URL has no host".into(),
        });
    }
    Ok(Some(parsed))
}

/// A path to an existing file.
pub fn file(var: Var) -> Result<PathBuf, SettingError> {
    optional_file(var)?.ok_or(SettingError::Missing(var))
}

/// Like [`file`], for a file that may be absent.
pub fn optional_file(var: Var) -> Result<Option<PathBuf>, SettingError> {
    let Some(value) = optional(var)? else {
        return Ok(None);
    };
    let path = PathBuf::from(value);
    if !path.is_file() {
        return Err(SettingError::Malformed {
            var,
            reason: format!("no file at {}", path.display()),
        });
    }
    Ok(Some(path))
}

/// A whole number, or `default` when unset.
pub fn number(var: Var, default: u64) -> Result<u64, SettingError> {
    match optional(var)? {
        None => Ok(default),
        Some(value) => value.parse().map_err(|_| SettingError::Malformed {
            var,
            reason: format!("{value:?} is not a whole number"),
        }),
    }
}

const TOKEN_HOW: &str = "Create one in the Astra Portal (Settings → Tokens → Generate token), or run `scripts/astra-local env` for the local stack.";

// Every variable a sample reads. The names are the contract between the samples, the local
// stack (`astra-local env`) and the tests; `.env.example` lists the same ones.
pub const ASTRA_DB_APPLICATION_TOKEN: Var = Var {
    name: "ASTRA_DB_APPLICATION_TOKEN",
    what: "the Astra application token (AstraCS:…)",
    how: TOKEN_HOW,
};
pub const ASTRA_DB_ID: Var = Var {
    name: "ASTRA_DB_ID",
    what: "your database's id (a UUID)",
    how: "Copy it from the database's overview page in the Astra Portal.",
};
pub const ASTRA_DB_REGION: Var = Var {
    name: "ASTRA_DB_REGION",
    what: "your database's region as Astra spells it (e.g. us-east1 or us-east-1)",
    how: "Copy it from the database's overview page in the Astra Portal.",
};
pub const ASTRA_DB_KEYSPACE: Var = Var {
    name: "ASTRA_DB_KEYSPACE",
    what: "the keyspace the samples write to (Astra's default is default_keyspace)",
    how: "Use a keyspace listed on the database's Data Explorer page.",
};
pub const ASTRA_DB_SECURE_BUNDLE_PATH: Var = Var {
    name: "ASTRA_DB_SECURE_BUNDLE_PATH",
    what: "the path of the secure connect bundle zip",
    how: "Download it from the database's Connect page in the Astra Portal, or run `scripts/astra-local env` for the local stack.",
};
pub const ASTRA_DB_CLIENT_ID: Var = Var {
    name: "ASTRA_DB_CLIENT_ID",
    what: "the Client ID of an older Astra token pair (used with ASTRA_DB_CLIENT_SECRET instead of a token)",
    how: "It is shown when a token is generated in the Astra Portal.",
};
pub const ASTRA_DB_CLIENT_SECRET: Var = Var {
    name: "ASTRA_DB_CLIENT_SECRET",
    what: "the Client Secret that goes with ASTRA_DB_CLIENT_ID",
    how: "It is shown when a token is generated in the Astra Portal.",
};
pub const ASTRA_DB_API_ENDPOINT: Var = Var {
    name: "ASTRA_DB_API_ENDPOINT",
    what: "the Data API endpoint (https://<db-id>-<region>.apps.astra.datastax.com)",
    how: "Copy it from the database's overview page, or set ASTRA_DB_ID and ASTRA_DB_REGION instead.",
};
pub const CASSANDRA_CONTACT_POINT: Var = Var {
    name: "CASSANDRA_CONTACT_POINT",
    what: "host:port of a self-hosted Cassandra node (e.g. 127.0.0.1:9042)",
    how: "Use the address your node listens on for CQL.",
};
pub const CASSANDRA_USERNAME: Var = Var {
    name: "CASSANDRA_USERNAME",
    what: "the Cassandra user name for a self-hosted node",
    how: "Use a role that can log in (PasswordAuthenticator).",
};
pub const CASSANDRA_PASSWORD: Var = Var {
    name: "CASSANDRA_PASSWORD",
    what: "the password of CASSANDRA_USERNAME",
    how: "Use the role's password.",
};
pub const STARGATE_AUTH_URL: Var = Var {
    name: "STARGATE_AUTH_URL",
    what: "the base URL of Stargate's auth API (e.g. http://localhost:8081)",
    how: "Self-hosted Stargate serves it on port 8081.",
};
pub const STARGATE_REST_URL: Var = Var {
    name: "STARGATE_REST_URL",
    what: "the base URL of Stargate's REST and Document APIs (e.g. http://localhost:8082)",
    how: "Self-hosted Stargate serves them on port 8082; on Astra set ASTRA_DB_ID and ASTRA_DB_REGION instead.",
};
pub const STARGATE_GRAPHQL_URL: Var = Var {
    name: "STARGATE_GRAPHQL_URL",
    what: "the base URL of Stargate's GraphQL API (e.g. http://localhost:8080)",
    how: "Self-hosted Stargate serves it on port 8080; on Astra set ASTRA_DB_ID and ASTRA_DB_REGION instead.",
};
pub const STARGATE_GRPC_ENDPOINT: Var = Var {
    name: "STARGATE_GRPC_ENDPOINT",
    what: "the URL of Stargate's gRPC API (e.g. http://localhost:8090)",
    how: "Self-hosted Stargate serves it on port 8090; on Astra set ASTRA_DB_ID and ASTRA_DB_REGION instead.",
};
pub const STARGATE_USERNAME: Var = Var {
    name: "STARGATE_USERNAME",
    what: "a Cassandra user name to get a Stargate token from the auth API",
    how: "Use a role of the Cassandra cluster behind Stargate.",
};
pub const STARGATE_PASSWORD: Var = Var {
    name: "STARGATE_PASSWORD",
    what: "the password of STARGATE_USERNAME",
    how: "Use the role's password.",
};
pub const ASTRA_STREAMING_SERVICE_URL: Var = Var {
    name: "ASTRA_STREAMING_SERVICE_URL",
    what: "the tenant's broker service URL (pulsar+ssl://…:6651)",
    how: "Copy it from the tenant's Connect tab in the Astra Portal (Broker Service URL).",
};
pub const ASTRA_STREAMING_WEB_URL: Var = Var {
    name: "ASTRA_STREAMING_WEB_URL",
    what: "the tenant's web service URL for the admin API (https://…)",
    how: "Copy it from the tenant's Connect tab in the Astra Portal (Web Service URL).",
};
pub const ASTRA_STREAMING_TOKEN: Var = Var {
    name: "ASTRA_STREAMING_TOKEN",
    what: "the Pulsar token of the tenant (a JWT, not the AstraCS database token)",
    how: "Create one on the tenant's Settings tab in the Astra Portal, or run `scripts/astra-local env` for the local stack.",
};
pub const ASTRA_STREAMING_TENANT: Var = Var {
    name: "ASTRA_STREAMING_TENANT",
    what: "the Astra Streaming tenant name",
    how: "It is the name of the tenant you created in the Astra Portal.",
};
pub const ASTRA_STREAMING_NAMESPACE: Var = Var {
    name: "ASTRA_STREAMING_NAMESPACE",
    what: "the namespace in the tenant (a new tenant has `default`)",
    how: "See the tenant's Namespace and Topics tab in the Astra Portal.",
};
pub const ASTRA_STREAMING_TOPIC: Var = Var {
    name: "ASTRA_STREAMING_TOPIC",
    what: "the topic name the samples produce to and consume from",
    how: "Any topic name in the namespace.",
};
pub const ASTRA_STREAMING_CA_PATH: Var = Var {
    name: "ASTRA_STREAMING_CA_PATH",
    what: "a PEM file with the CA that signed the broker's certificate (local stack only; Astra needs none)",
    how: "Run `scripts/astra-local env` for the local stack's CA.",
};
pub const ASTRA_DEVOPS_URL: Var = Var {
    name: "ASTRA_DEVOPS_URL",
    what: "the base URL of the Astra DevOps API (default https://api.astra.datastax.com)",
    how: "Leave it unset for Astra, or run `scripts/astra-local env` for the local contract server.",
};

#[cfg(test)]
mod tests {
    use super::*;

    // Each test uses a variable name of its own: tests run in parallel in one process.
    fn var(name: &'static str) -> Var {
        Var {
            name,
            what: "a test value",
            how: "Set it in the test.",
        }
    }

    #[allow(unsafe_code)]
    fn set(name: &str, value: &str) {
        // SAFETY: every test reads and writes only variable names of its own.
        unsafe { std::env::set_var(name, value) }
    }

    #[test]
    fn missing_variable_names_itself_and_the_fix() {
        let err = required(ASTRA_DB_APPLICATION_TOKEN_FOR_TEST).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("TEST_MISSING_TOKEN is not set"), "{msg}");
        assert!(msg.contains("Generate token"), "{msg}");
        assert!(msg.contains(".env"), "{msg}");
    }

    const ASTRA_DB_APPLICATION_TOKEN_FOR_TEST: Var = Var {
        name: "TEST_MISSING_TOKEN",
        ..ASTRA_DB_APPLICATION_TOKEN
    };

    #[test]
    fn empty_variable_counts_as_missing() {
        set("TEST_EMPTY", "   ");
        assert_eq!(
            required(var("TEST_EMPTY")),
            Err(SettingError::Missing(var("TEST_EMPTY")))
        );
    }

    #[test]
    fn malformed_token_is_rejected_without_echoing_it() {
        set("TEST_TOKEN_SPACE", "AstraCS:abc def-secret");
        let msg = token(var("TEST_TOKEN_SPACE")).unwrap_err().to_string();
        assert!(msg.starts_with("TEST_TOKEN_SPACE is malformed"), "{msg}");
        assert!(!msg.contains("def-secret"), "{msg}");
        set("TEST_TOKEN_QUOTE", "\"AstraCS:x\"");
        let msg = token(var("TEST_TOKEN_QUOTE")).unwrap_err().to_string();
        assert!(msg.contains("quote"), "{msg}");
    }

    #[test]
    fn good_token_is_trimmed_and_hidden() {
        set("TEST_TOKEN_GOOD", " AstraCS:abc:123 ");
        let t = token(var("TEST_TOKEN_GOOD")).unwrap();
        assert_eq!(t.expose(), "AstraCS:abc:123");
        assert!(!format!("{t:?}").contains("abc"));
    }

    #[test]
    fn url_errors_name_the_variable() {
        set("TEST_URL_BAD", "localhost:8082");
        let msg = url(var("TEST_URL_BAD"), &["http", "https"]).unwrap_err().to_string();
        assert!(msg.starts_with("TEST_URL_BAD is malformed"), "{msg}");
        set("TEST_URL_SCHEME", "ftp://example.com");
        let msg = url(var("TEST_URL_SCHEME"), &["http", "https"]).unwrap_err().to_string();
        assert!(msg.contains("ftp://"), "{msg}");
        set("TEST_URL_OK", "http://localhost:8082");
        assert_eq!(url(var("TEST_URL_OK"), &["http"]).unwrap().port(), Some(8082));
    }

    #[test]
    fn file_must_exist() {
        set("TEST_FILE_MISSING", "/nonexistent/scb.zip");
        let msg = file(var("TEST_FILE_MISSING")).unwrap_err().to_string();
        assert!(
            msg.contains("TEST_FILE_MISSING") && msg.contains("/nonexistent/scb.zip"),
            "{msg}"
        );
    }

    #[test]
    fn number_has_a_default_and_rejects_words() {
        assert_eq!(number(var("TEST_NUMBER_UNSET"), 7), Ok(7));
        set("TEST_NUMBER_BAD", "ten");
        let msg = number(var("TEST_NUMBER_BAD"), 7).unwrap_err().to_string();
        assert!(msg.starts_with("TEST_NUMBER_BAD is malformed"), "{msg}");
    }
}
