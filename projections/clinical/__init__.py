"""What the read models share about an episode's clinical course: its facts, the
definitions of DOMAIN.md rule set v2 over them, and their parameters."""
