//! What both proxies do alike around a [`ClientConfig`]: how a proxy is
//! named ([`IntoUri`]), its settings and their defaults, where it connects
//! ([`Target`]), and how replies become results. The adapters keep only
//! their way of waiting (blocking calls or futures) and their sockets.

use std::any::type_name;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyro_proto::message::{AnnotationId, Annotations};
use pyro_proto::session::{args, ClientConfig, Metadata, Response};
use pyro_proto::uri::{Protocol, Uri};
use pyro_proto::value::{from_value, Dict, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::ProxyError;

/// Pyro4's pause between two attempts of `_pyroReconnect`.
pub const DEFAULT_RECONNECT_INTERVAL: Duration = Duration::from_secs(2);

/// Checks the daemon's handshake answer (Pyro4's `_pyroValidateHandshake`):
/// an `Err` aborts the connection with that reason.
pub type HandshakeValidator = Arc<dyn Fn(&Value) -> Result<(), String> + Send + Sync>;

/// Something a proxy can be made from: a URI text or a parsed [`Uri`].
pub trait IntoUri {
    /// The parsed URI.
    fn into_uri(self) -> Result<Uri, ProxyError>;
}

impl IntoUri for Uri {
    fn into_uri(self) -> Result<Uri, ProxyError> {
        Ok(self)
    }
}

impl IntoUri for &Uri {
    fn into_uri(self) -> Result<Uri, ProxyError> {
        Ok(self.clone())
    }
}

impl IntoUri for &str {
    fn into_uri(self) -> Result<Uri, ProxyError> {
        Uri::parse(self).map_err(|source| ProxyError::InvalidUri {
            uri: self.to_string(),
            source,
        })
    }
}

impl IntoUri for String {
    fn into_uri(self) -> Result<Uri, ProxyError> {
        self.as_str().into_uri()
    }
}

impl IntoUri for &String {
    fn into_uri(self) -> Result<Uri, ProxyError> {
        self.as_str().into_uri()
    }
}

/// A proxy's settings (Pyro4's config items and `_pyro*` attributes), the
/// same for the blocking and the async proxy: what their `ProxyBuilder`s
/// collect and what each proxy (and each copy of it) keeps.
///
/// Defaults are Pyro4's: serpent, no HMAC key, metadata on, handshake
/// `'hello'`, no compression, no timeout, no retries, reconnect every 2 s.
#[derive(Clone)]
pub struct ProxySettings {
    /// What each connection's session is configured with; its `object` is
    /// the proxy's once [`for_object`](Self::for_object) made it.
    pub config: ClientConfig,
    /// How often a method call is retried (`_pyroMaxRetries`).
    pub max_retries: u32,
    /// The pause between reconnect attempts.
    pub reconnect_interval: Duration,
    /// The check of the daemon's handshake answer, if any.
    pub validator: Option<HandshakeValidator>,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            config: ClientConfig::new(""),
            max_retries: 0,
            reconnect_interval: DEFAULT_RECONNECT_INTERVAL,
            validator: None,
        }
    }
}

impl ProxySettings {
    /// These settings for a proxy of object `object`.
    pub fn for_object(&self, object: &str) -> ProxySettings {
        let mut settings = self.clone();
        settings.config.object = object.to_string();
        settings
    }

    /// The settings of the name server lookup a PYRONAME proxy makes on
    /// every connect: Pyro4's defaults with this proxy's HMAC key and
    /// timeout (Pyro4's `__pyroCreateConnection`).
    pub fn for_name_server(&self) -> ProxySettings {
        ProxySettings {
            config: ClientConfig {
                hmac_key: self.config.hmac_key.clone(),
                timeout: self.config.timeout,
                ..ClientConfig::new("")
            },
            ..ProxySettings::default()
        }
    }

    /// Debug output under the name of the builder holding these settings
    /// (the validator, a closure, is left out).
    pub fn debug_as(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("config", &self.config)
            .field("max_retries", &self.max_retries)
            .field("reconnect_interval", &self.reconnect_interval)
            .finish()
    }
}

/// The builder methods both proxies' `ProxyBuilder`s offer, written once.
/// Expands inside `impl ProxyBuilder` of a type with a field
/// `settings: ProxySettings`, next to a type `Proxy` with a `reconnect`
/// method. `timeout`, whose enforcement differs per adapter, stays in the
/// adapter.
#[doc(hidden)]
#[macro_export]
macro_rules! proxy_builder_options {
    () => {
        /// The serializer for requests (`_pyroSerializer`); the daemon must accept
        /// it (pickle only if its `SERIALIZERS_ACCEPTED` lists it).
        pub fn serializer(mut self, serializer: $crate::SerializerId) -> Self {
            self.settings.config.serializer = serializer;
            self
        }

        /// The HMAC key (`_pyroHmacKey`); must be the daemon's.
        pub fn hmac_key(mut self, key: impl Into<Vec<u8>>) -> Self {
            self.settings.config.hmac_key = Some(key.into());
            self
        }

        /// Ask for the object's metadata when connecting (Pyro4's `METADATA`,
        /// on by default): oneway methods are then known and unknown names are
        /// refused before sending.
        pub fn metadata(mut self, on: bool) -> Self {
            self.settings.config.metadata = on;
            self
        }

        /// The handshake data (`_pyroHandshake`, `'hello'` by default).
        pub fn handshake(mut self, data: $crate::Value) -> Self {
            self.settings.config.handshake = data;
            self
        }

        /// Check the daemon's handshake answer on every connect (Pyro4's
        /// `_pyroValidateHandshake`); a refusal drops the connection and the
        /// call fails with [`ProxyError::Handshake`].
        pub fn validate_handshake(
            mut self,
            check: impl Fn(&$crate::Value) -> Result<(), String> + Send + Sync + 'static,
        ) -> Self {
            self.settings.validator = Some(::std::sync::Arc::new(check));
            self
        }

        /// Compress requests of 200 bytes or more (Pyro4's `COMPRESSION`).
        pub fn compression(mut self, on: bool) -> Self {
            self.settings.config.compression = on;
            self
        }

        /// How often a method call is retried after a timeout or a closed
        /// connection (`_pyroMaxRetries`, 0 by default). Only for calls that are
        /// safe to repeat: the first attempt may have run.
        pub fn max_retries(mut self, retries: u32) -> Self {
            self.settings.max_retries = retries;
            self
        }

        /// The pause between attempts of [`Proxy::reconnect`] (2 s by default).
        pub fn reconnect_interval(mut self, interval: ::std::time::Duration) -> Self {
            self.settings.reconnect_interval = interval;
            self
        }

        /// Refuse messages larger than this (`MAX_MESSAGE_SIZE`, data +
        /// annotations): a larger request fails before anything is sent, a
        /// larger reply drops the connection; both are `ProxyError::Protocol`.
        pub fn max_message_size(mut self, limit: Option<usize>) -> Self {
            self.settings.config.max_message_size = limit;
            self
        }

        /// Cap on what a compressed reply may inflate to.
        pub fn max_decompressed_size(mut self, limit: usize) -> Self {
            self.settings.config.max_decompressed_size = limit;
            self
        }

        /// Application classes to accept in replies (Python's
        /// `register_dict_to_class`), e.g. custom exception classes, which
        /// Pyro4's serializers otherwise refuse. Serpent, json and marshal only.
        pub fn classes(mut self, registry: ::std::sync::Arc<$crate::ClassRegistry>) -> Self {
            self.settings.config.classes = Some(registry);
            self
        }
    };
}

/// Where a proxy connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A TCP host and port.
    Tcp {
        /// Name or address, as the URI has it.
        host: String,
        /// The port.
        port: u16,
    },
    /// A Unix domain socket path.
    Unix(PathBuf),
    /// A PYRONAME/PYROMETA URI, resolved through the name server on every
    /// connect (as Pyro4's proxy does).
    Name(Uri),
}

impl Target {
    /// The connect location of a PYRO URI.
    pub fn from_uri(uri: &Uri) -> Result<Target, ProxyError> {
        if uri.protocol() != Protocol::Pyro {
            return Ok(Target::Name(uri.clone()));
        }
        let no_location = || ProxyError::NoLocation {
            uri: uri.to_string(),
        };
        if let Some(path) = uri.sockname() {
            if path.is_empty() || cfg!(not(unix)) {
                return Err(no_location());
            }
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        match (uri.host(), uri.tcp_port()) {
            (Some(host), Some(port)) if !host.is_empty() => Ok(Target::Tcp {
                host: host.to_string(),
                port,
            }),
            _ => Err(no_location()),
        }
    }

    /// The address as Pyro4's messages print it: `('host', port)` or the socket path.
    pub fn describe(&self) -> String {
        match self {
            Target::Tcp { host, port } => format!("('{host}', {port})"),
            Target::Unix(path) => path.display().to_string(),
            Target::Name(uri) => uri.to_string(),
        }
    }
}

/// The value behind `Response::Value`, or the error the response stands for.
pub fn expect_value(method: &str, response: Response) -> Result<Value, ProxyError> {
    match response {
        Response::Value(v) => Ok(v),
        Response::Exception(e) => Err(ProxyError::Remote(e)),
        Response::Stream(_) => Err(ProxyError::UnexpectedStream {
            method: method.to_string(),
        }),
        other => Err(ProxyError::UnexpectedReply {
            method: method.to_string(),
            what: format!("{other:?}"),
        }),
    }
}

/// Convert a result of `method` into `R`.
pub fn convert<R: DeserializeOwned>(method: &str, value: Value) -> Result<R, ProxyError> {
    from_value(value).map_err(|source| ProxyError::Deserialize {
        method: method.to_string(),
        target: type_name::<R>(),
        source,
    })
}

/// Positional arguments as a call's `vargs` (shaped as every adapter does).
pub fn positional(args: impl Serialize) -> Result<Vec<Value>, ProxyError> {
    Ok(args::positional(args)?)
}

/// Keyword arguments as a call's `kwargs`.
pub fn keywords(kwargs: impl Serialize) -> Result<Dict, ProxyError> {
    Ok(args::keywords(kwargs)?)
}

/// What a proxy is about to use a name for, for [`check_member`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// Call it as a method.
    Method,
    /// Read it as an attribute.
    Get,
    /// Write it as an attribute.
    Set,
}

/// Pyro4's client-side check against the object's metadata: a method or
/// attribute the object does not expose is an AttributeError before
/// anything is sent, worded as Pyro4's proxy words it (`has no exposed
/// attribute or method` for a call or a read of an unknown name, `has no
/// exposed attribute` for a write, and for a read of a name that is a
/// method). For a dotted method name only the first part is looked up.
pub fn check_member(
    metadata: &Metadata,
    uri: &Uri,
    name: &str,
    member: Member,
) -> Result<(), ProxyError> {
    let is_attr = metadata.attrs.iter().any(|n| n == name);
    let is_method = |name: &str| metadata.methods.iter().any(|n| n == name);
    // `kind` words the error, when there is one.
    let (known, kind) = match member {
        Member::Method => {
            let first = name.split('.').next().unwrap_or(name);
            (is_method(first), "attribute or method")
        }
        Member::Get if is_method(name) => (is_attr, "attribute"),
        Member::Get => (is_attr, "attribute or method"),
        Member::Set => (is_attr, "attribute"),
    };
    if known {
        Ok(())
    } else {
        Err(ProxyError::NoSuchMember {
            uri: uri.to_string(),
            kind,
            name: name.to_string(),
        })
    }
}

/// The correlation id (`CORR`) among a reply's annotations, if it has one.
pub fn correlation_id(annotations: &Annotations) -> Option<[u8; 16]> {
    let corr = annotations.get(AnnotationId::CORR)?;
    corr.as_ref().try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_uris() {
        let tcp = Target::from_uri(&"PYRO:o@localhost:9090".into_uri().unwrap()).unwrap();
        assert_eq!(tcp.describe(), "('localhost', 9090)");
        let name = "PYRONAME:example.thing".into_uri().unwrap();
        assert_eq!(Target::from_uri(&name).unwrap(), Target::Name(name));
        assert!(matches!(
            "nonsense".into_uri(),
            Err(ProxyError::InvalidUri { .. })
        ));
    }

    #[test]
    fn unknown_members_are_refused_before_sending() {
        let uri = "PYRO:o@localhost:9090".into_uri().unwrap();
        let metadata = Metadata {
            methods: vec!["add".into()],
            attrs: vec!["size".into()],
            ..Metadata::default()
        };
        assert!(check_member(&metadata, &uri, "add", Member::Method).is_ok());
        assert!(check_member(&metadata, &uri, "add.sub", Member::Method).is_ok());
        assert!(check_member(&metadata, &uri, "size", Member::Get).is_ok());
        assert!(check_member(&metadata, &uri, "size", Member::Set).is_ok());
        let err = check_member(&metadata, &uri, "size", Member::Method).unwrap_err();
        assert!(
            matches!(
                err,
                ProxyError::NoSuchMember {
                    kind: "attribute or method",
                    ..
                }
            ),
            "{err:?}"
        );
        let err = check_member(&metadata, &uri, "add", Member::Get).unwrap_err();
        assert!(
            matches!(
                err,
                ProxyError::NoSuchMember {
                    kind: "attribute",
                    ..
                }
            ),
            "{err:?}"
        );
        // Pyro4's texts: `p.nope` and `p.nope = 1` on a proxy with metadata.
        let text = |name, member| {
            check_member(&metadata, &uri, name, member)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            text("nope", Member::Get),
            "remote object 'PYRO:o@localhost:9090' has no exposed attribute or method 'nope'"
        );
        assert_eq!(
            text("nope", Member::Set),
            "remote object 'PYRO:o@localhost:9090' has no exposed attribute 'nope'"
        );
    }

    #[test]
    fn name_server_lookups_keep_only_key_and_timeout() {
        let mut settings = ProxySettings::default().for_object("thing");
        settings.config.hmac_key = Some(b"k".to_vec());
        settings.config.timeout = Some(Duration::from_secs(1));
        settings.max_retries = 3;
        let ns = settings.for_name_server();
        assert_eq!(settings.config.object, "thing");
        assert_eq!(ns.config.object, "");
        assert_eq!(ns.config.hmac_key.as_deref(), Some(&b"k"[..]));
        assert_eq!(ns.config.timeout, Some(Duration::from_secs(1)));
        assert_eq!(ns.max_retries, 0);
    }
}
