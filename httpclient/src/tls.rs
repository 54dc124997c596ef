//! TLS settings of a request (`validate_cert`, `ca_certs`, a client
//! certificate) turned into a rustls client configuration, built once per
//! distinct setting and shared.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tornado_iostream::tls;

use crate::error::{ErrorKind, HttpClientError, TRANSPORT_ERROR_CODE};
use crate::request::HttpRequest;

/// The protocols offered by ALPN. Only HTTP/1.1 for now; an `h2` entry and
/// a second connection type would bring HTTP/2 in.
const ALPN: &[&[u8]] = &[b"http/1.1"];

/// The TLS settings that tell one configuration from another (and one pool
/// of connections from another).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TlsKey {
    validate: bool,
    ca_certs: Option<PathBuf>,
    client_cert: Option<(PathBuf, PathBuf)>,
}

impl TlsKey {
    pub(crate) fn of(request: &HttpRequest) -> TlsKey {
        TlsKey {
            validate: request.validate_cert.unwrap_or(true),
            ca_certs: request.ca_certs.clone(),
            // Without a key file, the key is in the certificate's file.
            client_cert: request.client_cert.clone().map(|cert| {
                let key = request.client_key.clone().unwrap_or_else(|| cert.clone());
                (cert, key)
            }),
        }
    }
}

/// Configurations built so far.
#[derive(Debug, Default)]
pub(crate) struct TlsConfigs {
    built: HashMap<TlsKey, Arc<ClientConfig>>,
}

impl TlsConfigs {
    pub(crate) fn get(&mut self, key: &TlsKey) -> Result<Arc<ClientConfig>, HttpClientError> {
        if let Some(config) = self.built.get(key) {
            return Ok(config.clone());
        }
        let config = build(key)?;
        self.built.insert(key.clone(), config.clone());
        Ok(config)
    }
}

fn settings_error(what: String) -> HttpClientError {
    HttpClientError::new(ErrorKind::InvalidRequest, TRANSPORT_ERROR_CODE, what)
}

fn build(key: &TlsKey) -> Result<Arc<ClientConfig>, HttpClientError> {
    let provider = tls::crypto_provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| settings_error(format!("TLS settings: {e}")))?;
    let builder = if key.validate {
        let mut roots = RootCertStore::empty();
        match &key.ca_certs {
            Some(path) => {
                let certs = tls::load_certs(path)
                    .map_err(|e| settings_error(format!("ca_certs {}: {e}", path.display())))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(settings_error(format!(
                        "ca_certs {}: no usable certificate",
                        path.display()
                    )));
                }
            }
            None => roots.extend(webpki_roots()),
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
    };
    let mut config = match &key.client_cert {
        Some((cert, key_path)) => {
            let chain = tls::load_certs(cert)
                .map_err(|e| settings_error(format!("client_cert {}: {e}", cert.display())))?;
            let private = tls::load_private_key(key_path)
                .map_err(|e| settings_error(format!("client_key {}: {e}", key_path.display())))?;
            builder
                .with_client_auth_cert(chain, private)
                .map_err(|e| settings_error(format!("client certificate: {e}")))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

fn webpki_roots() -> impl Iterator<Item = rustls::pki_types::TrustAnchor<'static>> {
    // tls::client_config(None, ..) uses the same Mozilla roots; building one
    // and taking its roots keeps the webpki-roots dependency in iostream.
    tls::mozilla_roots().roots.into_iter()
}

/// `validate_cert = false`: any certificate is accepted, but the handshake
/// signatures are still checked, so the connection is encrypted to whoever
/// holds the certificate's key.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
