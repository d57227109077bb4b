"""Reading files and streams: gzip or plain, lines, JSON documents, syslog frames, bounded pieces."""
