#!/usr/bin/env python3
"""Checks DCC files against PTB's DCC schematron: the good-practice rules shipped with
PTB's `dcclib` on PyPI, run through dcclib's own validator (XSLT 2.0, with Saxon). dcclib
ships the rules twice and the two sets differ: the rule source `dcc.sch` and the compiled
`dcc.svrl` that `SchematronValidator.for_dcc()` uses. Both are run; a finding is tagged
with the one that made it.

    tests/tools/dcc_schematron.py FILE_OR_DIRECTORY...   # directories: every *.xml below

A rule with role "error" that fires is an error; role "warning" is a warning; role
"information" is ignored. Warnings and errors are printed one per line,
`file: level: location: message`. Exit status: 0 no errors (warnings allowed), 1 at least
one error, 2 usage or unreadable input, 3 dcclib is not installed (the callers skip on 3
unless CALTRACE_REQUIRE_TOOLS is set; scripts/python-tools.sh installs it).
"""

import pathlib
import sys

TOOL_MISSING = 3


def documents(arguments):
    for argument in arguments:
        path = pathlib.Path(argument)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.xml") if p.is_file())
        else:
            yield path


def one_line(text):
    return " ".join(text.split())


def short(location):
    """`/Q{https://ptb.de/dcc}administrativeData[1]/...` as `/dcc:administrativeData[1]/...`."""
    return location.replace("Q{https://ptb.de/dcc}", "dcc:").replace(
        "Q{https://ptb.de/si}", "si:"
    )


def main(arguments):
    if not arguments or arguments[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        from dcclib.validation.schematron import SchematronValidator
    except ImportError as error:
        print(
            f"dcclib is not installed ({error}); scripts/python-tools.sh installs it "
            "(pip install dcclib)",
            file=sys.stderr,
        )
        return TOOL_MISSING
    files = list(documents(arguments))
    if not files:
        print(f"no DCC files in {' '.join(arguments)}", file=sys.stderr)
        return 2
    import dcclib.validation.schematron as schematron

    validators = [
        ("dcc.svrl", SchematronValidator.for_dcc()),
        (
            "dcc.sch",
            SchematronValidator.from_file(
                str(pathlib.Path(schematron.CURRENT_DIR) / "schema" / "dcc.sch")
            ),
        ),
    ]
    errors = warnings = 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as error:
            print(f"{path}: cannot read: {error}", file=sys.stderr)
            return 2
        for rules, validator in validators:
            result = validator.validate_str(text)
            for report in result.failed_assertions + result.successful_reports:
                role = (report.role or "error").lower()
                if role in ("information", "info"):
                    continue
                if role in ("warning", "warn"):
                    warnings += 1
                    level = "warning"
                else:
                    errors += 1
                    level = "ERROR"
                print(
                    f"{path}: {level} [{rules}]: {short(report.location)}: "
                    f"{one_line(report.text)}"
                )
    print(
        f"PTB DCC schematron: {len(files)} document(s), {errors} error(s), "
        f"{warnings} warning(s)"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
