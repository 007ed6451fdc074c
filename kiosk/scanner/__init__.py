"""The scanner room: camera sources, QR decoders and the scan worker (see ``docs/scanner.md``)."""
