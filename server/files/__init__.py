"""Uploaded files: type checked by content, stored outside the web root under generated names,
served with safe headers. Every feature that accepts files (resources, meeting materials,
competition entries, announcement attachments, photos, the regulation) goes through here.

    form, files = await read_upload_form(request, Schema, file_fields={"file": DOCUMENTS})
    stored = await save_upload(session, runtime.settings, files["file"], allowed=DOCUMENTS, user=user)
    ...
    return file_response(runtime.settings, stored)          # Content-Disposition: attachment
"""

from server.files.kinds import DOCUMENTS, IMAGES, FileKind, sniff
from server.files.store import (
    FileRejected,
    Upload,
    file_path,
    file_response,
    read_upload_form,
    save_bytes,
    save_upload,
)

__all__ = [
    "DOCUMENTS",
    "IMAGES",
    "FileKind",
    "FileRejected",
    "Upload",
    "file_path",
    "file_response",
    "read_upload_form",
    "save_bytes",
    "save_upload",
    "sniff",
]
