"""Subscribers in and out: CSV import and export, one-off adds, suppression, erasure."""

from __future__ import annotations

from dispatch.subscribers.addresses import normalise_address
from dispatch.subscribers.csv_export import export_subscribers, export_to_file
from dispatch.subscribers.csv_import import ImportSummary, import_subscribers
from dispatch.subscribers.erase import Erasure, erase_subscriber
from dispatch.subscribers.membership import Added, add_subscriber, suppress_address
from dispatch.subscribers.rejects import Reject

__all__ = [
    "Added",
    "Erasure",
    "ImportSummary",
    "Reject",
    "add_subscriber",
    "erase_subscriber",
    "export_subscribers",
    "export_to_file",
    "import_subscribers",
    "normalise_address",
    "suppress_address",
]
