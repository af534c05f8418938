"""Who hears what, and how: board push, SMS, voice, escalation chains."""
