"""Validates the last PAdES signature of a PDF with pyHanko (PyPI `pyhanko`), independently
of caltrace, for the test suite (tests/tools/checkers.rs):

    pades_verify.py SIGNED.pdf ROOT.pem

Only ROOT.pem is trusted; the intermediate comes from the CMS. Prints one line of what pyHanko
found (intact, valid, trusted, coverage, modification level, /Reason, /SubFilter), then its
detailed report. Exit 0 when the signature is intact, valid, trusted and covers the entire
file with no modification; 1 otherwise, or when pyHanko cannot read the file.
"""
import sys

from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import ModificationLevel, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext


def main() -> int:
    signed, root = sys.argv[1], sys.argv[2]
    context = ValidationContext(trust_roots=[load_cert_from_pemder(root)])
    try:
        with open(signed, "rb") as f:
            reader = PdfFileReader(f, strict=False)
            signatures = reader.embedded_signatures
            if not signatures:
                print("INVALID no signature")
                return 1
            signature = signatures[-1]
            status = validate_pdf_signature(signature, context)
            reason = signature.sig_object.get("/Reason")
            sub_filter = signature.sig_object.get("/SubFilter")
    except Exception as error:  # a file pyHanko cannot read is not a valid signed PDF
        print(f"INVALID {type(error).__name__}: {error}")
        return 1
    good = (
        status.intact
        and status.valid
        and status.trusted
        and status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        and status.modification_level == ModificationLevel.NONE
    )
    print(
        f"{'OK' if good else 'INVALID'} intact={status.intact} valid={status.valid} "
        f"trusted={status.trusted} coverage={status.coverage.name} "
        f"modification={status.modification_level.name if status.modification_level else None} "
        f"subfilter={sub_filter} reason={reason}"
    )
    print(status.pretty_print_details())
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
