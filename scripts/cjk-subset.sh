#!/usr/bin/env bash
# Rebuilds static/cjk-subset.ttf: the Chinese characters the pages' own text uses (templates and
# src/web), cut from the WenQuanYi Micro Hei the PDFs embed, so the verification page reads on a
# phone without CJK fonts (DESIGN section 8). Run after adding Chinese text to a page; the test
# web::the_cjk_subset_covers_every_chinese_character_of_the_pages fails until then.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-tools.sh
python_tools fonttools >/dev/null
"$CALTRACE_PYTHON" - <<'PY'
import pathlib, subprocess, sys
text = "".join(p.read_text() for p in [*pathlib.Path("templates").glob("*.tera"), *pathlib.Path("src/web").glob("*.rs")])
chars = sorted({c for c in text if "\u3000" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef"})
subprocess.run([sys.executable, "-m", "fontTools.subset", "fonts/WenQuanYiMicroHei.ttf",
                "--text=" + "".join(chars), "--output-file=static/cjk-subset.ttf",
                "--layout-features="], check=True)
print(f"static/cjk-subset.ttf: {len(chars)} characters")
PY
