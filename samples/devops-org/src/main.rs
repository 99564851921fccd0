//! sample-devops-org: read your Astra organization with the DevOps API v2: the organization
//! the token belongs to, its users, its roles and its application tokens. Only with `--apply`
//! it also creates an application token for a role and revokes it again.
//!
//! ```text
//! cargo run -p sample-devops-org                                  # organization, users, roles, tokens
//! cargo run -p sample-devops-org -- --apply                       # also create a token and revoke it
//! cargo run -p sample-devops-org -- --apply --role "R/W User"     # … with another role (name or id)
//! ```
//!
//! `ASTRA_DB_APPLICATION_TOKEN`: an organization token whose role has `org-read`,
//! `org-user-read`, `org-role-read`, `org-token-read` (and `org-token-write` for `--apply`), such
//! as Organization Administrator. `ASTRA_DEVOPS_URL`: unset for Astra; `scripts/astra-local env`
//! gives the local contract server's. Settings come from the environment or `.env`.
//! Walkthrough: samples/devops-org/README.md.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use common::http::{self, HttpError};
use common::{Token, endpoints, settings};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::{Deserialize, Deserializer};

#[derive(Parser)]
#[command(
    about = "Read the Astra organization, its users, roles and tokens with the DevOps API; with --apply, create and revoke a token."
)]
struct Args {
    /// Also create an application token and revoke it again.
    #[arg(long)]
    apply: bool,
    /// With --apply: the role of the new token, by name or id.
    #[arg(long, default_value = "Read Only User")]
    role: String,
    /// Seconds to wait for any one answer of the API.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=300))]
    timeout: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // `common=warn` shows the HTTP client's "retrying" lines.
                .unwrap_or_else(|_| "sample_devops_org=info,common=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
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
    let started = Instant::now();
    let api = DevOps {
        client: http::client("sample-devops-org")?,
        base: endpoints::devops_url()?,
        token: settings::token(settings::ASTRA_DB_APPLICATION_TOKEN)?,
        timeout: Duration::from_secs(args.timeout),
    };
    println!("DevOps API: {}", api.base);

    // 1. Which organization the token belongs to: every token is scoped to one.
    current_organization(&api).await?;
    // 2. Its users, each with their roles.
    list_users(&api).await?;
    // 3. Its roles (the default ones and custom ones); tokens and users refer to them by id.
    let roles = list_roles(&api).await?;
    // 4. Its application tokens: client ids and roles, never the secrets.
    list_tokens(&api, &roles).await?;

    if !args.apply {
        println!("Read-only run: nothing was changed (--apply creates a token and revokes it).");
        println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
        return Ok(());
    }

    // 5. A new token for one role; 6. revoked again at once.
    let role = find_role(&roles, &args.role)?;
    let client_id = create_token(&api, role).await?;
    revoke_token(&api, &client_id).await?;
    println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The steps

/// Prints the id of the organization the token belongs to.
async fn current_organization(api: &DevOps) -> anyhow::Result<()> {
    let call = Call {
        what: "read the current organization",
        permission: "org-read",
        subject: None,
    };
    let org: Organization = api.get_json(&call, api.url(&["v2", "currentOrg"])?).await?;
    println!("Organization: {}", org.id);
    Ok(())
}

/// Lists the users with their status (`active`, or `invited` until they accept) and roles.
async fn list_users(api: &DevOps) -> anyhow::Result<()> {
    let call = Call {
        what: "list the users",
        permission: "org-user-read",
        subject: None,
    };
    let users: OrganizationUsers = api.get_json(&call, api.url(&["v2", "organizations", "users"])?).await?;
    println!("{} user(s) in {}:", users.users.len(), users.org_name);
    for user in &users.users {
        let roles: Vec<&str> = user.roles.iter().map(|r| r.name.as_str()).collect();
        println!(
            "  {:<28} {:<8} {}",
            user.email.as_deref().unwrap_or("-"),
            user.status.as_deref().unwrap_or("-"),
            roles.join(", ")
        );
    }
    Ok(())
}

/// Lists the roles with the number of permissions each grants.
async fn list_roles(api: &DevOps) -> anyhow::Result<Vec<Role>> {
    let call = Call {
        what: "list the roles",
        permission: "org-role-read",
        subject: None,
    };
    let roles: Vec<Role> = api.get_json(&call, api.url(&["v2", "organizations", "roles"])?).await?;
    println!("{} role(s):", roles.len());
    for role in &roles {
        let permissions = role.policy.as_ref().map_or(0, |p| p.actions.len());
        println!("  {}  {:<28} {permissions} permission(s)", role.id, role.name);
    }
    Ok(roles)
}

/// Lists the application tokens. The API returns client ids and role ids only: a token's secret
/// is shown once, when it is created, and never again.
async fn list_tokens(api: &DevOps, roles: &[Role]) -> anyhow::Result<()> {
    let call = Call {
        what: "list the tokens",
        permission: "org-token-read",
        subject: None,
    };
    let tokens: ClientRoleList = api.get_json(&call, api.url(&["v2", "clientIdSecrets"])?).await?;
    let names: HashMap<&str, &str> = roles.iter().map(|r| (r.id.as_str(), r.name.as_str())).collect();
    println!("{} application token(s):", tokens.clients.len());
    for client in &tokens.clients {
        let roles: Vec<&str> = client
            .roles
            .iter()
            .map(|id| names.get(id.as_str()).copied().unwrap_or(id))
            .collect();
        println!("  {:<26} {}", client.client_id, roles.join(", "));
    }
    Ok(())
}

/// The role named (or with the id) `wanted`. Tokens are created for role ids, not names.
fn find_role<'a>(roles: &'a [Role], wanted: &str) -> anyhow::Result<&'a Role> {
    roles
        .iter()
        .find(|r| r.id == wanted || r.name.eq_ignore_ascii_case(wanted))
        .with_context(|| {
            let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
            format!(
                "no role {wanted:?} in this organization: use one of {}",
                names.join(", ")
            )
        })
}

/// Creates a token for `role`. The answer holds the token and its secret: this is the only time
/// they can be read. A real program stores them in a secret store at once; this sample keeps
/// them in a [`Token`] (which never prints itself) and revokes the token right away.
async fn create_token(api: &DevOps, role: &Role) -> anyhow::Result<String> {
    let call = Call {
        what: "create a token",
        permission: "org-token-write",
        subject: None,
    };
    let body = serde_json::json!({ "roles": [role.id] });
    let request = api
        .request(Method::POST, api.url(&["v2", "clientIdSecrets"])?)
        .json(&body);
    let created: CreatedToken = api
        .send_once(&call, request)
        .await?
        .json()
        .await
        .context("cannot read the new token")?;
    let kind = if created.token.expose().starts_with("AstraCS:") {
        "an AstraCS: token"
    } else {
        "a token"
    };
    println!(
        "Created {kind} for role {:?}: client id {} (its secret and token are shown only once; not printed here).",
        role.name, created.client_id
    );
    drop(created.secret);
    Ok(created.client_id)
}

/// Revokes the token: applications using it are refused from now on.
async fn revoke_token(api: &DevOps, client_id: &str) -> anyhow::Result<()> {
    let call = Call {
        what: "revoke the token",
        permission: "org-token-write",
        subject: Some(format!("token {client_id}")),
    };
    let url = api.url(&["v2", "clientIdSecrets", client_id])?;
    // DELETE is idempotent: common's client may retry it on 429/5xx.
    http::send_checked(api.request(Method::DELETE, url))
        .await
        .map_err(|e| explain(e, &call))?;
    println!("Revoked token {client_id}.");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The API's JSON (only the fields this sample reads; the rest is ignored)

#[derive(Debug, Deserialize)]
struct Organization {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrganizationUsers {
    org_name: String,
    users: Vec<User>,
}

#[derive(Debug, Deserialize)]
struct User {
    email: Option<String>,
    status: Option<String>,
    #[serde(default)]
    roles: Vec<Role>,
}

#[derive(Debug, Deserialize)]
struct Role {
    id: String,
    name: String,
    policy: Option<Policy>,
}

#[derive(Debug, Deserialize)]
struct Policy {
    #[serde(default)]
    actions: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ClientRoleList {
    #[serde(default)]
    clients: Vec<ClientRoles>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientRoles {
    client_id: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// The answer to a token creation. The secrets go straight into [`Token`]s.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatedToken {
    client_id: String,
    #[serde(deserialize_with = "secret")]
    secret: Token,
    #[serde(deserialize_with = "secret")]
    token: Token,
}

fn secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Token, D::Error> {
    String::deserialize(deserializer).map(Token::new)
}

// ---------------------------------------------------------------------------------------------
// Talking to the DevOps API

/// The API's base URL and the token, with the rules every call follows: bearer token, a
/// timeout per answer, retries for reads only.
struct DevOps {
    client: reqwest::Client,
    base: Url,
    token: Token,
    timeout: Duration,
}

/// What a call does, for error messages: the permission it needs (named on 403) and the thing
/// it names (named on 404).
struct Call {
    what: &'static str,
    permission: &'static str,
    subject: Option<String>,
}

impl DevOps {
    /// `base` + the path segments, each percent-encoded: an id cannot change the path.
    fn url(&self, segments: &[&str]) -> anyhow::Result<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| anyhow::anyhow!("ASTRA_DEVOPS_URL cannot have a path appended: {}", self.base))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.client
            .request(method, url)
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.timeout)
    }

    /// A GET, retried on 429 and 502–504 (reads are safe to repeat), parsed as JSON.
    async fn get_json<T: for<'de> Deserialize<'de>>(&self, call: &Call, url: Url) -> anyhow::Result<T> {
        let response = http::send_checked(self.request(Method::GET, url))
            .await
            .map_err(|e| explain(e, call))?;
        response
            .json()
            .await
            .with_context(|| format!("cannot {}: the answer is not the expected JSON", call.what))
    }

    /// A POST: sent once, never retried (a retried create could create twice).
    async fn send_once(&self, call: &Call, request: RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = http::send_once(request).await.map_err(|e| explain(e, call))?;
        http::check(response).await.map_err(|e| explain(e, call))
    }
}

/// The HTTP error, plus what this sample knows: the permission the call needs (403) and the id
/// it named (404).
fn explain(error: HttpError, call: &Call) -> anyhow::Error {
    let known = match (error.status(), &call.subject) {
        (Some(StatusCode::FORBIDDEN), _) => format!(
            " (to {} the token's role needs the {} permission)",
            call.what, call.permission
        ),
        (Some(StatusCode::NOT_FOUND), Some(subject)) => format!(" (there is no {subject} in this organization)"),
        _ => String::new(),
    };
    anyhow::anyhow!("cannot {}: {error}{known}", call.what)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn created_token_never_prints_its_secrets() {
        let body = r#"{"clientId":"abc","secret":"s3cr3t-value","orgId":"o","roles":["r"],"token":"AstraCS:abc:f00d"}"#;
        let created: CreatedToken = serde_json::from_str(body).unwrap();
        let shown = format!("{created:?}");
        assert!(!shown.contains("s3cr3t-value") && !shown.contains("f00d"), "{shown}");
        assert_eq!(created.token.expose(), "AstraCS:abc:f00d");
    }

    #[test]
    fn roles_are_found_by_name_or_id() {
        let roles = vec![
            Role {
                id: "r1".into(),
                name: "Read Only User".into(),
                policy: None,
            },
            Role {
                id: "r2".into(),
                name: "R/W User".into(),
                policy: None,
            },
        ];
        assert_eq!(find_role(&roles, "read only user").unwrap().id, "r1");
        assert_eq!(find_role(&roles, "r2").unwrap().name, "R/W User");
        let error = find_role(&roles, "Admin").unwrap_err().to_string();
        assert!(error.contains("Read Only User, R/W User"), "{error}");
    }
}
