//! Checking a signed certificate file (PAdES PDF or XAdES DCC) offline (DESIGN 8b: `caltrace verify FILE`, and the
//! verification page's upload): the signature cryptographically valid, the document unchanged
//! since signing, and the signer's certificate path up to a trusted root valid at the signing
//! time (RFC 5280 6.1, reduced to what a lab's PKI uses: names, signatures, validity periods
//! and CA constraints).

use chrono::{DateTime, Utc};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

use super::{issued_by, pades, read_certificates, time_of, xades, SigningError};

/// What a valid signed file says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DocumentCheck {
    /// "PDF" or "DCC".
    pub kind: &'static str,
    /// The certificate number the file carries.
    pub number: Option<String>,
    /// The signing certificate's subject.
    pub signer: String,
    /// RFC 3339, as the signature states it.
    pub signing_time: String,
    /// The trusted root the signer's certificate path ends at.
    pub root: String,
}

/// Trusted roots from PEM (a file given with `--trust`, or the lab's own chains): only the
/// self-signed certificates in it are roots.
pub fn trusted_roots(pem: &str) -> Result<Vec<Certificate>, SigningError> {
    let certificates = read_certificates(pem, "the trusted roots")?;
    let roots: Vec<Certificate> = certificates
        .into_iter()
        .filter(|c| {
            c.tbs_certificate().issuer() == c.tbs_certificate().subject()
                && issued_by(c, c).unwrap_or(false)
        })
        .collect();
    if roots.is_empty() {
        return Err(SigningError::Chain(
            "no self-signed root among the trusted certificates".into(),
        ));
    }
    Ok(roots)
}

/// Checks a signed PDF or DCC against the trusted roots.
pub fn check_document(bytes: &[u8], roots: &[Certificate]) -> Result<DocumentCheck, SigningError> {
    if bytes.starts_with(b"%PDF") {
        let verified = pades::verify(bytes)?;
        let at = signing_time(&verified.signature.signing_time)?;
        let root = path_to_root(&verified.signature.certificates, roots, at)?;
        return Ok(DocumentCheck {
            kind: "PDF",
            number: verified.certificate_number,
            signer: verified.signature.signer,
            signing_time: verified.signature.signing_time,
            root: root.tbs_certificate().subject().to_string(),
        });
    }
    let not_a_certificate = || {
        SigningError::Xml(
            "the file is neither a PDF nor a DCC (XML): give the certificate's PDF or its DCC \
             as downloaded"
                .into(),
        )
    };
    let xml = std::str::from_utf8(bytes).map_err(|_| not_a_certificate())?;
    if !xml
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('<')
    {
        return Err(not_a_certificate());
    }
    let verified = xades::verify(xml)?;
    let at = signing_time(&verified.signing_time)?;
    let root = path_to_root(&verified.certificates, roots, at)?;
    Ok(DocumentCheck {
        kind: "DCC",
        number: dcc_number(xml),
        signer: verified.signer,
        signing_time: verified.signing_time,
        root: root.tbs_certificate().subject().to_string(),
    })
}

fn signing_time(text: &str) -> Result<DateTime<Utc>, SigningError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| SigningError::Signature(format!("the signing time '{text}' is unreadable")))
}

/// The DCC's certificate number: `dcc:uniqueIdentifier` in its administrative data.
fn dcc_number(xml: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    doc.descendants()
        .find(|n| n.tag_name().name() == "uniqueIdentifier")
        .and_then(|n| n.text())
        .map(|t| t.trim().to_string())
}

/// The longest path a lab's PKI needs: signer, intermediates, root.
const MAX_PATH: usize = 6;

/// Walks from the signer (the first certificate) up through the others to a trusted root,
/// each link signed by the next, each certificate valid at `at`, each issuer a CA.
fn path_to_root<'a>(
    certificates: &[Certificate],
    roots: &'a [Certificate],
    at: DateTime<Utc>,
) -> Result<&'a Certificate, SigningError> {
    let mut current = certificates
        .first()
        .ok_or_else(|| SigningError::Chain("the signature carries no certificate".into()))?;
    for _ in 0..MAX_PATH {
        valid_at(current, at)?;
        if let Some(root) = roots.iter().find(|r| issues(r, current)) {
            valid_at(root, at)?;
            return Ok(root);
        }
        if issues(current, current) {
            return Err(SigningError::Chain(format!(
                "no trusted root: the path ends at {}, which is not among the trusted roots",
                current.tbs_certificate().subject()
            )));
        }
        let issuer = certificates
            .iter()
            .find(|c| issues(c, current) && is_ca(c))
            .ok_or_else(|| {
                SigningError::Chain(format!(
                    "no trusted root or certificate in the file issued {}",
                    current.tbs_certificate().subject()
                ))
            })?;
        current = issuer;
    }
    Err(SigningError::Chain(
        "the certificate path is longer than any lab's PKI".into(),
    ))
}

/// Whether `issuer` issued `certificate`: the names match and the signature verifies.
fn issues(issuer: &Certificate, certificate: &Certificate) -> bool {
    certificate.tbs_certificate().issuer() == issuer.tbs_certificate().subject()
        && issued_by(certificate, issuer).unwrap_or(false)
}

fn is_ca(certificate: &Certificate) -> bool {
    matches!(
        certificate.tbs_certificate().get_extension::<BasicConstraints>(),
        Ok(Some((_, constraints))) if constraints.ca
    )
}

/// A signature made outside a certificate's validity period proves nothing (RFC 5280 6.1.3).
fn valid_at(certificate: &Certificate, at: DateTime<Utc>) -> Result<(), SigningError> {
    let validity = certificate.tbs_certificate().validity();
    let (from, until) = (time_of(&validity.not_before), time_of(&validity.not_after));
    if at < from || at > until {
        return Err(SigningError::Chain(format!(
            "{} was not valid at the signing time {} (valid {} to {})",
            certificate.tbs_certificate().subject(),
            at.to_rfc3339(),
            from.to_rfc3339(),
            until.to_rfc3339()
        )));
    }
    Ok(())
}
