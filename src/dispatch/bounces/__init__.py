"""Bounces and complaints coming back by mail: VERP return paths (`verp`), reading
report messages (`report`, `parts`, `classify`, `sources`), recording them (`intake`)
from an SMTP/LMTP receiver (`server`) or an IMAP mailbox (`imap`)."""
