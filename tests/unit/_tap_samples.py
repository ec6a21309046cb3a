"""TAP test files as commercial data, for the tests that read TAP batches."""

from __future__ import annotations


def commercial(data: bytes) -> bytes:
    """A TAP file's bytes with its batch's ``fileTypeIndicator`` left out: the same batch as commercial data."""
    from pycrate_asn1dir import TAP3

    spec = TAP3.TAP_0312.DataInterChange
    spec.from_ber(data)
    kind, batch = spec.get_val()
    batch["batchControlInfo"].pop("fileTypeIndicator", None)
    spec.set_val((kind, batch))
    return bytes(spec.to_ber())
