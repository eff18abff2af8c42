"""The event log as shipped from a hall's controller to the central server (the uplink).

Both ends import this module: the controller's uplink encodes, the central server decodes.
The protocol, over HTTPS with `Authorization: Bearer <hall token>`:

- `GET  /api/uplink/position` → `Position`: what the central server has of this hall.
- `PUT  /api/uplink/config`   body `HallConfigUpload`: the hall's configuration in effect.
- `POST /api/uplink/batch`    body `Batch` (JSON, `Content-Encoding: gzip` allowed) →
  `BatchReply`. Records are contiguous by sequence number from `first`; those the central
  server already has are skipped (ingest is idempotent on (hall, seq)); a gap is refused
  with 409 and the reply's `acked` says where to resume.

The token alone says which hall is sending: a hall cannot name another hall's id.
"""

from __future__ import annotations

import msgspec

from hallq.hall.events import Record

PROTOCOL = 1
MAX_BATCH_RECORDS = 5_000
MAX_BATCH_BYTES = 16 * 1024 * 1024  # the decompressed body; a batch of 5,000 is ~1.5 MB
MAX_CONFIG_BYTES = 1024 * 1024


class Batch(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    first: int  # the sequence number of records[0]
    records: list[Record]
    config_digest: str = ""  # the configuration in effect at the hall when it was sent
    protocol: int = PROTOCOL


class BatchReply(msgspec.Struct, kw_only=True):
    hall: str
    acked: int  # every record up to this sequence number is stored at the central server
    config_digest: str = ""  # the configuration the central server has of this hall
    need_config: bool = False  # send the configuration (PUT /api/uplink/config) first


class Position(msgspec.Struct, kw_only=True):
    hall: str
    acked: int
    config_digest: str = ""
    need_config: bool = False


class HallConfigUpload(msgspec.Struct, kw_only=True):
    text: str  # the whole configuration in effect, as TOML
    digest: str  # hallq.hall.reconfigure.config_digest of it, as the hall computed it


batch_encoder = msgspec.json.Encoder()
batch_decoder = msgspec.json.Decoder(Batch)
reply_decoder = msgspec.json.Decoder(BatchReply)
position_decoder = msgspec.json.Decoder(Position)
config_upload_decoder = msgspec.json.Decoder(HallConfigUpload)
