"""CSV downloads: a wallet's statement and the export of the transfer list, streamed page by page
(nothing waits for the last row before the first bytes leave)."""
