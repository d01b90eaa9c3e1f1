"""Care-episode domain: the event-sourced episode, its values, rules and application."""
