"""Inbox scanning: recordings + calls.csv metadata, call transcripts, and text channels."""

from voc.ingest.inbox import Candidate, InboxScan, Rejected, scan_inbox

__all__ = ["Candidate", "InboxScan", "Rejected", "scan_inbox"]
