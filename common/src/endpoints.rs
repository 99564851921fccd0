//! Where each interface lives. On Astra every HTTP API hangs off one host derived from the
//! database id and region; self-hosted Stargate (and the local stack) serve each API on its own
//! port. An explicit URL always wins, so one binary serves both.

use reqwest::Url;

use crate::settings::{self, SettingError, Var};

/// An Astra database, named by id and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AstraDatabase {
    pub id: String,
    pub region: String,
}

impl AstraDatabase {
    /// Reads `ASTRA_DB_ID` and `ASTRA_DB_REGION`: both or neither.
    pub fn from_env() -> Result<Option<Self>, SettingError> {
        let id = settings::optional(settings::ASTRA_DB_ID)?;
        let region = settings::optional(settings::ASTRA_DB_REGION)?;
        match (id, region) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(SettingError::Missing(settings::ASTRA_DB_REGION)),
            (None, Some(_)) => Err(SettingError::Missing(settings::ASTRA_DB_ID)),
            (Some(id), Some(region)) => Self::new(&id, &region).map(Some),
        }
    }

    /// Checks the shapes, so that neither value can change the URL's host or path.
    pub fn new(id: &str, region: &str) -> Result<Self, SettingError> {
        let id_ok = id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if !id_ok {
            return Err(SettingError::Malformed {
                var: settings::ASTRA_DB_ID,
                reason: "not a UUID".into(),
            });
        }
        let region_ok = !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !region_ok {
            return Err(SettingError::Malformed {
                var: settings::ASTRA_DB_REGION,
                reason: "only lowercase letters, digits and dashes are allowed".into(),
            });
        }
        Ok(Self {
            id: id.to_ascii_lowercase(),
            region: region.to_owned(),
        })
    }

    /// `https://{id}-{region}.apps.astra.datastax.com`: the host of every Astra HTTP API.
    pub fn apps_url(&self) -> Url {
        let url = format!("https://{}-{}.apps.astra.datastax.com", self.id, self.region);
        Url::parse(&url).expect("id and region are checked in new()")
    }
}

/// Appends `path` to `base`, keeping any path `base` already has (`Url::join` would drop it).
pub fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}/{}", base.path().trim_end_matches('/'), path.trim_start_matches('/'));
    url.set_path(&joined);
    url
}

/// `explicit` if set, else the Astra URL `astra_path` under the database's host.
pub fn choose(
    explicit: Option<Url>,
    db: Option<&AstraDatabase>,
    astra_path: &str,
    explicit_var: Var,
) -> Result<Url, SettingError> {
    match (explicit, db) {
        (Some(url), _) => Ok(url),
        (None, Some(db)) => Ok(join(&db.apps_url(), astra_path)),
        (None, None) => Err(SettingError::Missing(explicit_var)),
    }
}

const HTTP: &[&str] = &["http", "https"];

fn from_env(var: Var, astra_path: &str) -> Result<Url, SettingError> {
    let explicit = settings::optional_url(var, HTTP)?;
    let db = if explicit.is_none() {
        AstraDatabase::from_env()?
    } else {
        None
    };
    choose(explicit, db.as_ref(), astra_path, var)
}

/// Base of the REST API v2 and Document API v2 (append `/v2/...`).
pub fn rest_url() -> Result<Url, SettingError> {
    from_env(settings::STARGATE_REST_URL, "/api/rest")
}

/// Base of the auth API (append `/v1/auth`).
pub fn auth_url() -> Result<Url, SettingError> {
    from_env(settings::STARGATE_AUTH_URL, "/api/rest")
}

/// Base of the GraphQL API: append `graphql-schema`, `graphql/{keyspace}` or `graphql-admin`.
pub fn graphql_url() -> Result<Url, SettingError> {
    from_env(settings::STARGATE_GRAPHQL_URL, "/api")
}

/// The gRPC endpoint: on Astra the database's host on 443 with TLS.
pub fn grpc_endpoint() -> Result<Url, SettingError> {
    let explicit = settings::optional_url(settings::STARGATE_GRPC_ENDPOINT, HTTP)?;
    let db = if explicit.is_none() {
        AstraDatabase::from_env()?
    } else {
        None
    };
    choose(explicit, db.as_ref(), "/", settings::STARGATE_GRPC_ENDPOINT)
}

/// The Data API endpoint (append `/api/json/v1/{keyspace}`).
pub fn data_api_endpoint() -> Result<Url, SettingError> {
    from_env(settings::ASTRA_DB_API_ENDPOINT, "/")
}

/// The DevOps API base, Astra's unless `ASTRA_DEVOPS_URL` says otherwise.
pub fn devops_url() -> Result<Url, SettingError> {
    let url = settings::optional_url(settings::ASTRA_DEVOPS_URL, HTTP)?;
    Ok(url.unwrap_or_else(|| Url::parse("https://api.astra.datastax.com").expect("constant URL")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> AstraDatabase {
        AstraDatabase::new("3a6d1c7e-1234-4bcd-9abc-0123456789ab", "us-east1").unwrap()
    }

    #[test]
    fn astra_urls_come_from_id_and_region() {
        let rest = choose(None, Some(&db()), "/api/rest", settings::STARGATE_REST_URL).unwrap();
        assert_eq!(
            rest.as_str(),
            "https://3a6d1c7e-1234-4bcd-9abc-0123456789ab-us-east1.apps.astra.datastax.com/api/rest"
        );
        let graphql = choose(None, Some(&db()), "/api", settings::STARGATE_GRAPHQL_URL).unwrap();
        assert_eq!(join(&graphql, "graphql-schema").path(), "/api/graphql-schema");
        assert_eq!(join(&graphql, "graphql/ks").path(), "/api/graphql/ks");
    }

    #[test]
    fn explicit_url_wins() {
        let local = Url::parse("http://localhost:8082").unwrap();
        let rest = choose(
            Some(local.clone()),
            Some(&db()),
            "/api/rest",
            settings::STARGATE_REST_URL,
        )
        .unwrap();
        assert_eq!(rest, local);
        assert_eq!(
            join(&rest, "/v2/keyspaces").as_str(),
            "http://localhost:8082/v2/keyspaces"
        );
    }

    #[test]
    fn neither_names_the_variable() {
        let err = choose(None, None, "/api/rest", settings::STARGATE_REST_URL).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("STARGATE_REST_URL") && msg.contains("ASTRA_DB_ID"),
            "{msg}"
        );
    }

    #[test]
    fn id_and_region_cannot_smuggle_a_host() {
        assert!(AstraDatabase::new("evil.com/x", "us-east1").is_err());
        let err = AstraDatabase::new("3a6d1c7e-1234-4bcd-9abc-0123456789ab", "us-east1.evil.com").unwrap_err();
        assert!(err.to_string().starts_with("ASTRA_DB_REGION is malformed"));
    }
}
