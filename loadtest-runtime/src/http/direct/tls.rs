//! The TLS client configuration of a test: rustls with the Mozilla root store (webpki-roots,
//! the roots the reqwest transport uses), ALPN offering `h2` then `http/1.1`, and, only when a
//! test opts out by name (`danger_accept_invalid_certs`), a verifier that accepts any certificate
//! (signatures are still checked, so the handshake itself stays sound).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;

/// The connector every TLS connection of a test is made with.
pub(crate) fn connector(
    accept_invalid_certs: bool,
) -> Result<tokio_rustls::TlsConnector, rustls::Error> {
    connector_with_alpn(accept_invalid_certs, &[b"h2", b"http/1.1"])
}

/// A connector offering the protocols `alpn` (a WebSocket's TLS connection offers `http/1.1`
/// only: its upgrade is an HTTP/1.1 request).
pub(crate) fn connector_with_alpn(
    accept_invalid_certs: bool,
    alpn: &[&[u8]],
) -> Result<tokio_rustls::TlsConnector, rustls::Error> {
    // rustls 0.23.48 deprecates its ring provider for lacking post-quantum key exchange. A load
    // generator does not need it (its traffic is the test's, to the test's own servers), and the
    // provider that has it (aws-lc-rs) builds a C library with CMake for every user: ring stays,
    // and the deprecation is allowed here alone, so the runtime builds without warnings on any
    // 0.23 release.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = if accept_invalid_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    } else {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Accepts any server certificate: `danger_accept_invalid_certs = true`.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
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
        verify_tls12_signature(
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
        verify_tls13_signature(
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
