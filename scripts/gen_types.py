"""Generate clients/typescript/api.d.ts from the HTTP API's OpenAPI document.

The document comes from the FastAPI app itself, and `openapi-typescript` (npm) turns it into
types, so the TypeScript view cannot drift from the API: `--check` (run by the tests) fails
when the committed file is not what the current API generates.

Usage: python scripts/gen_types.py [--check]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "clients" / "typescript" / "api.d.ts"
GENERATOR = ROOT / "node_modules" / ".bin" / "openapi-typescript"


def openapi_document() -> dict:
    from agent_sessions.http.app import create_app  # noqa: PLC0415 - needs the package

    return create_app(lambda _request: None).openapi()


def generate() -> str:
    with tempfile.TemporaryDirectory() as scratch:
        spec, out = Path(scratch) / "openapi.json", Path(scratch) / "api.d.ts"
        spec.write_text(json.dumps(openapi_document(), indent=2))
        # Fields with a default stay optional: request bodies may leave them out.
        command = [str(GENERATOR), str(spec), "-o", str(out), "--default-non-nullable=false"]
        subprocess.run(command, check=True, capture_output=True)
        return out.read_text()


if __name__ == "__main__":
    from generated import main

    sys.exit(main(OUT, generate, __doc__))
