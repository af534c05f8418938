"""The kernel of the domain: the database base, errors, time, roles, actors, the calendar. Imports nothing
else from incidents."""
