"""People: users and their tokens, duty rosters and cover, and who may do what."""
