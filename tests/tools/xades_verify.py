"""Verifies an enveloped XAdES signature with signxml's XAdESVerifier (PyPI `signxml`),
independently of caltrace, for the test suite (tests/tools/checkers.rs):

    xades_verify.py SIGNED.xml ROOT.pem

The signing certificate and its chain come from the signature's KeyInfo; only ROOT.pem is
trusted. The signature must have exactly two references (the document and the
SignedProperties, DESIGN section 8b). Exit 0 and "OK …" when it verifies, 1 and the reason
otherwise.
"""
import sys

from signxml.xades import XAdESSignatureConfiguration, XAdESVerifier


def main() -> int:
    signed, root = sys.argv[1], sys.argv[2]
    with open(signed, "rb") as f:
        data = f.read()
    try:
        results = XAdESVerifier().verify(
            data,
            ca_pem_file=root,
            expect_config=XAdESSignatureConfiguration(expect_references=2),
        )
    except Exception as error:  # signxml raises several kinds; all mean "not valid"
        print(f"INVALID {type(error).__name__}: {error}")
        return 1
    properties = [r for r in results if getattr(r, "signed_properties", None) is not None]
    signing_time = properties[0].signed_properties.findtext(
        "{http://uri.etsi.org/01903/v1.3.2#}SigningTime"
    )
    print(f"OK {len(results)} references verified; SigningTime {signing_time}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
