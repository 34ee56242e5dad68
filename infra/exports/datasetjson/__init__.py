"""CDISC Dataset-JSON 1.1: every SDTM dataset as ``<name>.json`` (lower case), beside the
define.xml its columns refer to (``itemOID`` = define.xml's ItemDef OID). Rows are streamed
to a spool and the metadata, which needs the record count, written before them at the end:
memory stays flat. Missing values are null; numbers are JSON numbers, written exactly.
"""

from infra.exports.datasetjson.writer import write_dataset_json

__all__ = ["write_dataset_json"]
