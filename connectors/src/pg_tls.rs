//! TLS for PostgreSQL sources, with libpq's `sslmode` and `sslrootcert`.
//!
//! The driver (tokio-postgres) knows only `disable`, `prefer` and `require` and no CA file,
//! so hedui reads both settings out of the connection string itself and hands the driver the
//! rest. The modes mean what they mean to libpq:
//!
//! | `sslmode` | encrypted | server certificate checked against the CA | host name checked |
//! |---|---|---|---|
//! | `disable` | no | | |
//! | `prefer` (the default) | if the server offers it | only with a CA file | no |
//! | `require` | yes | only with a CA file | no |
//! | `verify-ca` | yes | yes | no |
//! | `verify-full` | yes | yes | yes |
//!
//! The CA file comes from `sslrootcert` in the connection string or `ca_file` in the source's
//! config (relative to the config's folder); `verify-ca` and `verify-full` without one use the
//! system's trusted CAs. The TLS library is the system's OpenSSL, as libpq's is.

use std::path::{Path, PathBuf};

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if the server offers it.
    Prefer,
    /// TLS or no connection.
    Require,
    /// TLS, the certificate signed by the CA.
    VerifyCa,
    /// TLS, the certificate signed by the CA and naming the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            // libpq's `allow` tries without TLS first; hedui does not go below `prefer`.
            other => {
                return Err(format!(
                    "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }

    /// The name libpq gives it.
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A source's TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// The mode.
    pub mode: SslMode,
    /// The CA certificates (PEM) the server's certificate must chain to.
    pub root_cert: Option<PathBuf>,
}

impl Tls {
    /// Whether the server's certificate is checked against a CA.
    pub fn verifies_certificate(&self) -> bool {
        matches!(self.mode, SslMode::VerifyCa | SslMode::VerifyFull)
            || (self.root_cert.is_some() && self.mode != SslMode::Disable)
    }

    /// The driver's mode.
    pub fn driver_mode(&self) -> postgres::config::SslMode {
        match self.mode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                postgres::config::SslMode::Require
            }
        }
    }

    /// The TLS connector for these settings. Errors name the CA file when it cannot be read.
    pub fn connector(&self) -> Result<MakeTlsConnector, String> {
        let mut builder =
            SslConnector::builder(SslMethod::tls_client()).map_err(|e| format!("TLS: {e}"))?;
        if self.verifies_certificate() {
            builder.set_verify(SslVerifyMode::PEER);
            match &self.root_cert {
                Some(path) if !path.is_file() => {
                    return Err(format!("the CA file {} does not exist", path.display()));
                }
                Some(path) => builder
                    .set_ca_file(path)
                    .map_err(|e| format!("the CA file {} cannot be used: {e}", path.display()))?,
                None => builder
                    .set_default_verify_paths()
                    .map_err(|e| format!("the system's CA certificates: {e}"))?,
            }
        } else {
            builder.set_verify(SslVerifyMode::NONE);
        }
        let mut connector = MakeTlsConnector::new(builder.build());
        if self.mode != SslMode::VerifyFull {
            connector.set_callback(|config, _| {
                config.set_verify_hostname(false);
                Ok(())
            });
        }
        Ok(connector)
    }
}

/// Why OpenSSL refused a server's certificate, in words, from a handshake error's text.
pub fn refusal(msg: &str) -> Option<String> {
    if !msg.contains("certificate verify failed") {
        return None;
    }
    let known = [
        (
            "hostname mismatch",
            "it does not name the host connected to (sslmode=verify-full)",
        ),
        (
            "IP address mismatch",
            "it does not name the address connected to (sslmode=verify-full)",
        ),
        (
            "unable to get local issuer certificate",
            "the CA file did not sign it",
        ),
        (
            "self-signed certificate",
            "it is self-signed and not in the CA file",
        ),
        ("certificate has expired", "it has expired"),
        ("certificate is not yet valid", "it is not valid yet"),
    ];
    Some(
        known
            .iter()
            .find(|(k, _)| msg.contains(k))
            .map(|(k, why)| format!("{why} ({k})"))
            .unwrap_or_else(|| "certificate verify failed".into()),
    )
}

/// Splits a connection string (libpq's `key=value` form or a `postgresql://` URL) into the
/// string the driver reads, without `sslmode` and `sslrootcert`, and the TLS settings.
/// `ca_file` is the source config's CA file (already resolved); giving one there and another
/// in the string is an error.
pub fn split_dsn(dsn: &str, ca_file: Option<&Path>) -> Result<(String, Tls), String> {
    let trimmed = dsn.trim();
    let (rest, pairs) =
        if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
            split_url(trimmed)
        } else {
            split_key_values(trimmed)?
        };
    let mut mode = SslMode::Prefer;
    let mut root_cert: Option<PathBuf> = None;
    for (k, v) in pairs {
        match k.as_str() {
            "sslmode" => mode = SslMode::parse(&v)?,
            "sslrootcert" => root_cert = Some(PathBuf::from(v)),
            _ => unreachable!("split_* returns only the TLS keys"),
        }
    }
    let root_cert = match (root_cert, ca_file) {
        (Some(a), Some(b)) if a != b => {
            return Err(format!(
                "the CA file is given twice: sslrootcert={} in the dsn and ca_file={} in the config",
                a.display(),
                b.display()
            ));
        }
        (a, b) => a.or_else(|| b.map(Path::to_path_buf)),
    };
    Ok((rest, Tls { mode, root_cert }))
}

const TLS_KEYS: [&str; 2] = ["sslmode", "sslrootcert"];

/// `key=value` pairs as libpq reads them: spaces around `=` allowed, values bare (a
/// backslash escapes the next character) or in single quotes (with `\'` and `\\`).
fn split_key_values(dsn: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut rest = Vec::new();
    let mut tls = Vec::new();
    let mut chars = dsn.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("postgres dsn: {key:?} has no value (key=value)"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => {
                        return Err(format!(
                            "postgres dsn: the value of {key} has no closing quote"
                        ));
                    }
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        if TLS_KEYS.contains(&key.as_str()) {
            tls.push((key, value));
        } else {
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            rest.push(format!("{key}='{quoted}'"));
        }
    }
    Ok((rest.join(" "), tls))
}

/// A URL's query parameters `sslmode` and `sslrootcert` taken out (percent-decoded).
fn split_url(dsn: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = dsn.split_once('?') else {
        return (dsn.to_string(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut tls = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = form_urlencoded::parse(part.as_bytes())
            .next()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .unwrap_or_default();
        if TLS_KEYS.contains(&k.as_str()) {
            tls.push((k, v));
        } else {
            kept.push(part);
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_the_ca_file_are_read_from_either_form_and_the_rest_passes_through() {
        let (rest, tls) = split_dsn(
            r"host=db.example  port = 5432 user=hedui password='it\'s a \\ secret' sslmode=verify-full sslrootcert='/etc/ssl/ca dir/root.crt'",
            None,
        )
        .unwrap();
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(
            tls.root_cert.as_deref(),
            Some(Path::new("/etc/ssl/ca dir/root.crt"))
        );
        let config: postgres::Config = rest.parse().unwrap();
        assert_eq!(config.get_password(), Some(&br"it's a \ secret"[..]));
        assert_eq!(config.get_ports(), &[5432]);

        let (rest, tls) = split_dsn(
            "postgresql://hedui@db.example:5433/exports?sslmode=require&application_name=x&sslrootcert=%2Fetc%2Fca.crt",
            None,
        )
        .unwrap();
        assert_eq!(tls.mode, SslMode::Require);
        assert!(
            tls.verifies_certificate(),
            "require with a CA file verifies it"
        );
        assert_eq!(tls.root_cert.as_deref(), Some(Path::new("/etc/ca.crt")));
        assert_eq!(
            rest,
            "postgresql://hedui@db.example:5433/exports?application_name=x"
        );
        rest.parse::<postgres::Config>().unwrap();

        let (_, tls) = split_dsn("host=h", Some(Path::new("/c.crt"))).unwrap();
        assert_eq!(tls.mode, SslMode::Prefer, "libpq's default");
        assert_eq!(tls.root_cert.as_deref(), Some(Path::new("/c.crt")));
        let (_, tls) = split_dsn("host=h sslmode=require", None).unwrap();
        assert!(!tls.verifies_certificate());
    }

    #[test]
    fn a_bad_sslmode_a_ca_file_given_twice_and_an_unclosed_quote_are_errors() {
        let e = split_dsn("host=h sslmode=verify_full", None).unwrap_err();
        assert!(e.contains("\"verify_full\" is not one of"), "{e}");
        let e = split_dsn("host=h sslrootcert=/a.crt", Some(Path::new("/b.crt"))).unwrap_err();
        assert!(e.contains("given twice"), "{e}");
        let e = split_dsn("host=h password='open", None).unwrap_err();
        assert!(e.contains("no closing quote"), "{e}");
        let e = split_dsn("host", None).unwrap_err();
        assert!(e.contains("has no value"), "{e}");
    }
}
