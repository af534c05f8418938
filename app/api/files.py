"""Answering a stored PDF: inline, with its SHA-256 as ETag and header, never cached by a shared cache."""
from __future__ import annotations

import hashlib
import io

from flask import send_file


def pdf_response(data: bytes, filename: str):
    """Return a PDF kept in the database as it is, named for download."""
    digest = hashlib.sha256(data).hexdigest()
    response = send_file(io.BytesIO(data), mimetype="application/pdf", download_name=filename, as_attachment=False,
                         etag=digest, max_age=0)
    response.headers["X-Document-SHA256"] = digest
    response.headers["Cache-Control"] = "private, no-cache"
    return response
