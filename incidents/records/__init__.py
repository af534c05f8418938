"""What every use case writes besides its own rows: the audit trail, the board-event outbox and the
announcements (what each board is told), with the payloads they carry."""
