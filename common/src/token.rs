use std::fmt;

/// A secret: an Astra application token, a Stargate auth token, a Pulsar JWT, a password.
///
/// `Debug` and `Display` never show the value, so a token cannot reach a log line or an error
/// message by accident. Only a well-known prefix such as `AstraCS:` is shown, which tells a
/// reader which kind of token is in use. Call [`Token::expose`] where the value must be sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for the one place that sends it (a header, a password field).
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn redacted(&self) -> &'static str {
        if self.0.starts_with("AstraCS:") {
            "AstraCS:…"
        } else if self.0.starts_with("eyJ") {
            "eyJ… (JWT)"
        } else {
            "…"
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", self.redacted())
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = "AstraCS:abcdefghijklmnopqrst:0123456789abcdef";
        let token = Token::new(secret);
        for shown in [format!("{token}"), format!("{token:?}"), format!("{token:#?}")] {
            assert!(!shown.contains("abcdefghij"), "leaked: {shown}");
            assert!(shown.contains("AstraCS:…"), "prefix missing: {shown}");
        }
        assert_eq!(token.expose(), secret);
        let other = Token::new("2b4c8f3e-0000-4000-8000-123456789abc");
        assert_eq!(format!("{other:?}"), "Token(…)");
    }
}
