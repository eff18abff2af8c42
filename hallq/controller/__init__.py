"""The hall controller: the single writer, its event log, and the HTTP/WebSocket API."""
