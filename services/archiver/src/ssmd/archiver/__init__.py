"""ssmd.archiver: the MD_* and RAW_* streams into an exactly-once Parquet/JSONL dataset.

Modules: `settings` (``SSMD_ARCHIVER_*``), `layout` (the on-disk contract with readers),
`columns` (Arrow schemas of the event types), `seqs` (sets of stream sequences), `durable`
(fsync helpers), `manifest` (the commit protocol and crash recovery), `flush` (a batch into
committed files), `metrics` (``ssmd_archiver_*``), `service` (consumers wired into a
`Service`) and `__main__` (composition). See services/archiver/README.md.
"""
